"""The copy preview replays a master's real fills through the live sizing and risk code: a
known history checked by hand, a limit change that changes what is refused, and the RPC."""

import uuid
from decimal import Decimal


from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from services.discovery import preview
from services.kit.testing import eventually
from services.domain import sizing
from services.domain.risk.limits import RiskLimits
from tests.discovery.test_stats import HISTORY, discovery, master, publish  # noqa: F401 - the fixture

FILLS = [preview.MasterFill(f"f{n}", fill) for n, fill in enumerate(HISTORY)]
HALF = sizing.Settings(mode="MULTIPLIER", multiplier=Decimal("0.5"))


def test_a_half_size_follower_captures_half_the_trades_less_nothing_at_zero_cost():
    result = preview.replay(FILLS, capital=Decimal(10000), settings=HALF, limits=RiskLimits(), latency_ms=0,
                            fee_rate=Decimal(0))
    assert [s.follower_quantity for s in result.steps] == [Decimal("0.5"), Decimal("0.5"), Decimal(1), Decimal(1),
                                                            Decimal("0.5"), Decimal("0.5"), Decimal("0.5"),
                                                            Decimal("0.5")]
    # +5, -5, -10, +5 on 10,000; the master made -10.21 on the 10,000 its venue reported.
    assert result.follower_return == Decimal("-0.0005")
    assert result.master_return == Decimal("-0.001021")
    assert result.capture_gap == Decimal("-0.000521")
    assert result.equity_curve[-1][1] == Decimal("9995")


def test_latency_fees_and_a_tighter_limit_show_in_the_preview():
    slow = preview.replay(FILLS, capital=Decimal(10000), settings=HALF, limits=RiskLimits(), latency_ms=20_000,
                          fee_rate=Decimal("0.001"))
    assert slow.follower_return < Decimal("-0.0005")  # 0.2 % slippage and fees cost the follower
    assert all(s.refusal is None for s in slow.steps)
    strict = preview.replay(FILLS, capital=Decimal(10000), settings=HALF, limits=RiskLimits(max_slippage=Decimal(
        "0.001")), latency_ms=20_000, fee_rate=Decimal("0.001"))
    refused = [(s.fill_id, s.refusal[0]) for s in strict.steps if s.refusal]
    # Openings move 0.2 % > 0.1 % allowed; closings of nothing held are refused by sizing.
    assert ("f0", "SLIPPAGE_TOO_HIGH") in refused and all(r in ("SLIPPAGE_TOO_HIGH", "NOTHING_TO_CLOSE")
                                                         for _, r in refused)
    assert strict.follower_return == Decimal(0)  # nothing opened, nothing lost


async def test_preview_copy_over_grpc_uses_the_masters_recorded_fills(discovery, token_for):
    stub, bus = discovery
    trader, account = await master(stub, token_for, "Preview")
    for n, fill in enumerate(HISTORY):
        await publish(bus, account, fill, n)
    settings = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5")

    async def previewed(**limits):
        reply = await stub.PreviewCopy(pb.PreviewCopyRequest(
            trader_id=trader, capital="10000", settings=settings, latency_ms=20_000, fee_rate="0.001",
            limits=risk_pb.RiskLimits(**limits)), metadata=token_for("follower"))
        return reply if reply.trades_taken + reply.trades_refused == len(HISTORY) else None
    loose = await eventually(lambda: previewed(), message="a preview over all eight fills")
    assert loose.trades_refused == 0 and loose.master_return == "-0.0010"
    assert len(loose.follower_equity) == 8 and loose.trades[0].follower_quantity == "0.5"
    strict = await previewed(max_slippage="0.001")
    assert strict.trades_refused > 0
    assert strict.trades[0].refusal.reason == "SLIPPAGE_TOO_HIGH" and strict.trades[0].refusal.domain.startswith("risk")
