"""A master's open positions and latest trades on their public profile: the fills discovery
saw on NATS, matched first in, first out by the ledger the statistics use, each closing
trade with its PnL after fees; a private profile shows nothing to others."""

import uuid
from decimal import Decimal

import grpc
import pytest

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.discovery import stats
from services.kit.errors import error_info
from services.kit.testing import eventually
from tests.discovery.test_stats import HISTORY, SPOT, at, discovery, master, publish  # noqa: F401 - the fixture

STILL_OPEN = stats.Fill("BTC/USDT", "buy", Decimal("0.5"), Decimal(120), Decimal("0.06"), at(5, 9))


async def test_a_profile_shows_what_the_master_holds_and_their_trades_newest_first(discovery, token_for):
    stub, bus = discovery
    trader, account = await master(stub, token_for, "Open Book")
    for n, fill in enumerate([*HISTORY, STILL_OPEN]):
        await publish(bus, account, fill, n)

    async def activity(**kw):
        return await stub.GetMasterActivity(pb.GetMasterActivityRequest(trader_id=trader, **kw),
                                            metadata=token_for("anyone"))
    got = await eventually(lambda: _with_trades(activity(), 9), message="the fills counted")
    assert [(p.symbol, Decimal(p.quantity), Decimal(p.entry_price), Decimal(p.last_price)) for p in got.positions] == [
        ("BTC/USDT", Decimal("0.5"), Decimal(120), Decimal(120))]
    assert got.positions[0].open_time.ToDatetime().isoformat().startswith(at(5, 9).replace(tzinfo=None).isoformat())
    assert got.total_trades == 9
    newest = got.trades[0]
    assert (newest.symbol, newest.side, newest.quantity, newest.realized_pnl) == (
        "BTC/USDT", trading_pb2.SIDE_BUY, "0.5", "")  # it opened, it closed nothing
    # The round trips' PnL after fees, on the fills that closed them (newest first).
    closing = [Decimal(t.realized_pnl) for t in got.trades if t.realized_pnl]
    assert closing == [Decimal(10), Decimal(-20), Decimal(-10), Decimal("9.79")]
    assert [t.trade_id for t in (await activity(trade_limit=2)).trades] == [t.trade_id for t in got.trades[:2]]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await activity(trade_limit=1000)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(refused.value).metadata["field"] == "trade_limit"


async def test_a_private_profiles_activity_is_not_shown(discovery, token_for):
    stub, _ = discovery
    user = f"hidden-{uuid.uuid4().hex[:6]}"
    account = (await stub.open_account(user, rep.ACCOUNT_ROLE_MASTER, SPOT)).account_id
    profile = (await stub.CreateMasterProfile(pb.CreateMasterProfileRequest(profile=pb.MasterProfile(
        display_name="Hidden", strategy_type=pb.STRATEGY_TYPE_SWING, risk_level=pb.RISK_LEVEL_MODERATE,
        master_account_ids=[account], public=False)), metadata=token_for(user, "master"))).profile
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetMasterActivity(pb.GetMasterActivityRequest(trader_id=profile.trader_id),
                                     metadata=token_for("someone-else"))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


async def _with_trades(reply, count):
    got = await reply
    return got if got.total_trades == count else None
