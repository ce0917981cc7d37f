"""Master statistics from real fills: a known history checked by hand (a winning trade, a
losing streak that makes a drawdown, a short), and through the service: fills arriving on NATS
keep the statistics current, and a ranking holds still while it is paged."""

import math
import statistics as st
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.discovery.v1.discovery_service_pb2_grpc import DiscoveryServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.discovery import stats
from services.kit.bus import Bus
from services.kit import fillsign, metrics
from services.kit.errors import error_info
from services.kit.testing import eventually
from tests.conftest import publish_unverified_fill

SPOT = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)

DAY = datetime(2026, 11, 1, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return DAY + timedelta(days=day - 1, hours=hour)


# Equity 10,000. Four round trips: +9.79 (fees 0.10 + 0.11), -10, -20 (a losing streak), +10 (a short).
HISTORY = [
    stats.Fill("BTC/USDT", "buy", Decimal(1), Decimal(100), Decimal("0.10"), at(1, 10), Decimal(10000)),
    stats.Fill("BTC/USDT", "sell", Decimal(1), Decimal(110), Decimal("0.11"), at(1, 14)),
    stats.Fill("BTC/USDT", "buy", Decimal(2), Decimal(100), Decimal(0), at(2, 10)),
    stats.Fill("BTC/USDT", "sell", Decimal(2), Decimal(95), Decimal(0), at(2, 12)),
    stats.Fill("ETH/USDT", "buy", Decimal(1), Decimal(100), Decimal(0), at(3, 10)),
    stats.Fill("ETH/USDT", "sell", Decimal(1), Decimal(80), Decimal(0), at(3, 11)),
    stats.Fill("ETH/USDT", "sell", Decimal(1), Decimal(100), Decimal(0), at(4, 10)),
    stats.Fill("ETH/USDT", "buy", Decimal(1), Decimal(90), Decimal(0), at(4, 16)),
]


def test_the_statistics_of_a_known_history_match_a_hand_count():
    # Four days are fewer than the default minimum for Sharpe (see the next test): lowered here
    # to check the arithmetic by hand.
    result = stats.compute(HISTORY, "ALL_TIME", at(4, 23), stats.Minimums(daily_returns=4, losing_days=2))
    assert result["trade_count"] == 4
    assert result["realized_pnl"] == "-10.21"  # 9.79 - 10 - 20 + 10
    assert result["unrealized_pnl"] == "0.00"
    assert result["roi"] == "-0.0010"  # -10.21 / 10000
    assert result["win_rate"] == "0.5000"
    assert result["profit_factor"] == "0.6597"  # 19.79 / 30
    assert (result["average_win"], result["average_loss"]) == ("9.90", "-15.00")
    # The peak 10009.79 after the first trade, the trough 9979.79 after the third.
    assert result["max_drawdown"] == str((Decimal(30) / Decimal("10009.79")).quantize(Decimal("0.0001")))
    assert result["average_holding_hours"] == 3.25  # 4h, 2h, 1h, 6h
    # Daily returns over the equity at each day's start, annualised with sqrt(365).
    returns = [9.79 / 10000, -10 / 10009.79, -20 / 9999.79, 10 / 9979.79]
    mean, sd = st.mean(returns), st.stdev(returns)
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / len(returns))
    assert float(result["sharpe_ratio"]) == pytest.approx(mean / sd * math.sqrt(365), abs=1e-3)
    assert float(result["sortino_ratio"]) == pytest.approx(mean / downside * math.sqrt(365), abs=1e-3)
    assert float(result["volatility"]) == pytest.approx(sd * math.sqrt(365), abs=1e-3)
    assert stats.observed_strategy(result["average_holding_hours"], result["trades_per_day"]) == "DAY_TRADING"


def test_a_short_history_says_not_enough_history_with_what_it_needs():
    four_days = stats.compute(HISTORY, "ALL_TIME", at(4, 23))
    assert (four_days["sharpe_ratio"], four_days["sortino_ratio"], four_days["volatility"]) == ("", "", "")
    assert {(n["field"], n["observation"], n["required"], n["observed"]) for n in four_days["not_enough_history"]} == {
        ("sharpe_ratio", "daily returns", 7, 4), ("sortino_ratio", "daily returns", 7, 4),
        ("volatility", "daily returns", 7, 4)}
    assert four_days["win_rate"] == "0.5000"  # four closed trades are enough for the trade figures
    # A 30-day window over a master who started four days ago has four daily returns, not 30
    # (days before the first fill are no track record).
    month = stats.compute(HISTORY, "30D", at(4, 23))
    assert month["sharpe_ratio"] == "" and {n["observed"] for n in month["not_enough_history"]} == {4}
    # Ten days with one losing day: Sharpe is there, Sortino needs a second losing day.
    winners = [stats.Fill("BTC/USDT", side, Decimal(1), Decimal(price), Decimal(0), at(day, hour),
                          Decimal(10000) if day == 1 and side == "buy" else None)
               for day in range(1, 11)
               for side, price, hour in (("buy", 100, 10), ("sell", 90 if day == 5 else 100 + day, 12))]
    ten = stats.compute(winners, "ALL_TIME", at(10, 23))
    assert ten["sharpe_ratio"] and ten["volatility"] and ten["sortino_ratio"] == ""
    assert ten["not_enough_history"] == [{"field": "sortino_ratio", "observation": "losing days", "required": 2,
                                          "observed": 1}]
    nothing = stats.compute([], "30D", at(1, 1))
    assert {n["field"] for n in nothing["not_enough_history"]} >= {"win_rate", "sharpe_ratio"}


def test_a_window_counts_only_the_trades_it_holds_and_open_lots_are_marked():
    week = stats.compute(HISTORY, "7D", at(9, 13))  # from day 2, 13:00: the trades closed on days 3 and 4
    assert week["trade_count"] == 2 and week["realized_pnl"] == "-10.00"
    held = stats.compute(HISTORY[:1] + [stats.Fill("BTC/USDT", "sell", Decimal("0.5"), Decimal(120), Decimal(0),
                                                   at(1, 12))], "ALL_TIME", at(1, 13))
    assert held["realized_pnl"] == "9.95"  # half closed at +20 a unit, minus half the opening fee
    assert held["unrealized_pnl"] == "10.00"  # half still open, marked at the last price, 120
    assert stats.compute([], "30D", at(1, 1))["win_rate"] == ""  # nothing to say yet


@pytest_asyncio.fixture
async def discovery(start_service, accounts_mesh, nats_server):
    """Discovery, and the replication it asks whose accounts a profile may show."""
    _, open_account = accounts_mesh
    replication = open_account.services[1]
    service = await start_service("discovery", addresses={**replication.settings.addresses,
                                                          "replication": replication.address})
    bus = await Bus.connect(nats_server.url, "stats-feed")
    stub = DiscoveryServiceStub(service.channel)
    stub.open_account = open_account  # how master() opens the master's venue account
    yield stub, bus
    await bus.close()


async def publish(bus, account: str, fill: stats.Fill, n: int) -> None:
    event = events.MasterFill(
        fill_id=f"{account}:{n}", master_account_id=account, symbol=fill.symbol,
        side=trading_pb2.SIDE_BUY if fill.side == "buy" else trading_pb2.SIDE_SELL, quantity=str(fill.quantity),
        price=str(fill.price), fee=str(fill.fee), fee_currency="USDT",
        master_equity=str(fill.equity) if fill.equity else "")
    event.execute_time.FromDatetime(fill.time)
    await bus.publish(f"fills.master.filled.{account}", event, msg_id=event.fill_id,
                      signer=fillsign.Signer(fillsign.DEV_SIGNING_KEY))  # as replication signs it


async def master(discovery, token_for, name: str) -> tuple[str, str]:
    """A master with a venue account and a public profile showing it: (trader id, account id)."""
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    account = (await discovery.open_account(user, rep.ACCOUNT_ROLE_MASTER, SPOT)).account_id
    profile = (await discovery.CreateMasterProfile(pb.CreateMasterProfileRequest(profile=pb.MasterProfile(
        display_name=name, strategy_type=pb.STRATEGY_TYPE_SWING, risk_level=pb.RISK_LEVEL_MODERATE,
        master_account_ids=[account], public=True)), metadata=token_for(user, "master"))).profile
    return profile.trader_id, account


async def test_fills_on_nats_keep_statistics_current(discovery, token_for):
    stub, bus = discovery
    trader, account = await master(stub, token_for, "Hand Check")
    for n, fill in enumerate(HISTORY):
        await publish(bus, account, fill, n)
        await publish(bus, account, fill, n)  # a duplicate counts once

    async def current():
        got = (await stub.GetPerformanceStats(pb.GetPerformanceStatsRequest(trader_id=trader),
                                              metadata=token_for("anyone"))).stats
        return got if got.trade_count == 4 else None
    got = await eventually(current, message="statistics from the fills")
    assert (got.realized_pnl, got.win_rate, got.profit_factor) == ("-10.21", "0.5000", "0.6597")
    assert got.window == pb.STATS_WINDOW_ALL_TIME
    # A default follower pays 0.1 % fees and 100 ms of slippage on each fill: less than the master.
    assert got.capturable_roi and Decimal(got.capturable_roi) < Decimal(got.roi)
    profile = (await stub.GetMasterProfile(pb.GetMasterProfileRequest(trader_id=trader),
                                           metadata=token_for("anyone"))).profile
    assert profile.stats.trade_count == 4 and profile.observed_strategy_type == pb.STRATEGY_TYPE_DAY_TRADING


async def publish_copy(bus, account: str, n: int, fill: stats.Fill, *, delay_ms: int, price: Decimal) -> None:
    """A follower's filled copy of master fill n, as replication publishes it."""
    order = events.FollowerOrder(
        order_id=f"copy-{account}-{n}", follower_id="f1", master_fill_id=f"{account}:{n}", symbol=fill.symbol,
        side=trading_pb2.SIDE_BUY if fill.side == "buy" else trading_pb2.SIDE_SELL, quantity=str(fill.quantity),
        filled_quantity=str(fill.quantity), average_fill_price=str(price))
    order.master_fill_time.FromDatetime(fill.time)
    order.ack_time.FromDatetime(fill.time + timedelta(milliseconds=delay_ms))
    event = events.CopyEvent(event_id=f"{order.order_id}:filled", filled=events.FollowerOrderFilled(
        order=order, quantity=str(fill.quantity), price=str(price)))
    event.occur_time.FromDatetime(fill.time + timedelta(milliseconds=delay_ms))
    await bus.publish(f"copies.order.filled.{order.follower_id}", event, msg_id=event.event_id)


async def test_short_histories_say_not_enough_and_capturable_uses_the_measured_copies(discovery, token_for):
    stub, bus = discovery
    (measured_trader, measured), (modelled_trader, modelled) = [await master(stub, token_for, name)
                                                                for name in ("Measured", "Modelled")]
    traders = {measured: measured_trader, modelled: modelled_trader}
    # The hand-checked history, moved to have started four days ago (days run to today).
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    recent = [replace(f, time=f.time + (today - timedelta(days=4) - DAY)) for f in HISTORY]
    days = 5
    for account in traders:
        for n, fill in enumerate(recent):
            await publish(bus, account, fill, n)
    # The copies of one master's fills got 2.5 s of delay and 40 bps against them (buys above the
    # master's price, sells below).
    for n, fill in enumerate(recent):
        worse = fill.price * (Decimal("1.004") if fill.side == "buy" else Decimal("0.996"))
        await publish_copy(bus, measured, n, fill, delay_ms=2500 if n % 2 else 2400, price=worse)

    async def stats_of(account: str, copies: int):
        got = (await stub.GetPerformanceStats(pb.GetPerformanceStatsRequest(trader_id=traders[account]),
                                              metadata=token_for("anyone"))).stats
        return got if got.trade_count == 4 and got.capturable_copy_count == copies else None
    got = await eventually(lambda: stats_of(measured, len(HISTORY)), message="the measured copies counted")
    model = await eventually(lambda: stats_of(modelled, 0), message="the model's statistics")
    # Five days of history: not enough for Sharpe, Sortino or volatility, and said so.
    assert (got.sharpe_ratio, got.sortino_ratio, got.volatility) == ("", "", "")
    assert {(n.field, n.observation, n.required, n.observed) for n in got.not_enough_history} == {
        ("sharpe_ratio", "daily returns", 7, days), ("sortino_ratio", "daily returns", 7, days),
        ("volatility", "daily returns", 7, days)}
    # Capturable: the measured delay and slippage, or the model's when nothing was measured.
    assert got.capturable_basis == pb.CAPTURABLE_BASIS_MEASURED
    assert (got.capturable_delay_ms, got.capturable_slippage_bps) == (2500, "40.00")
    assert model.capturable_basis == pb.CAPTURABLE_BASIS_MODEL
    assert (model.capturable_delay_ms, model.capturable_slippage_bps) == (100, "0.10")
    assert Decimal(got.capturable_roi) < Decimal(model.capturable_roi) < Decimal(model.roi)


async def test_a_ranking_holds_still_while_paged_as_fills_arrive(discovery, token_for):
    stub, bus = discovery
    tag = uuid.uuid4().hex[:6]
    traders, accounts = {}, {}
    for name, gain in (("low", 1), ("mid", 5), ("high", 9)):  # one winning round trip each
        traders[name], account = accounts[name] = await master(stub, token_for, f"{name}-{tag}")
        await publish(bus, account, stats.Fill("BTC/USDT", "buy", Decimal(1), Decimal(100), Decimal(0),
                                               at(1, 10), Decimal(1000)), 0)
        await publish(bus, account, stats.Fill("BTC/USDT", "sell", Decimal(1), Decimal(100 + gain), Decimal(0),
                                               at(1, 12)), 1)

    async def ranked(**kw):
        return await stub.ListMasterTraders(pb.ListMasterTradersRequest(order_by="roi desc", **kw),
                                            metadata=token_for("anyone"))
    mine = set(traders.values())

    async def all_counted():
        page = await ranked(page_size=500)
        return sum(1 for t in page.traders if t.trader_id in mine and t.stats.trade_count == 1) == 3
    await eventually(all_counted, message="three masters with statistics")
    first = await ranked(page_size=1)
    order = [first.traders[0].trader_id]
    # "low" has a big win now: a fresh ranking would change, the one being paged does not.
    low = accounts["low"][1]
    await publish(bus, low, stats.Fill("BTC/USDT", "buy", Decimal(1), Decimal(100), Decimal(0), at(2, 10)), 2)
    await publish(bus, low, stats.Fill("BTC/USDT", "sell", Decimal(1), Decimal(300), Decimal(0), at(2, 12)), 3)
    await eventually(lambda: _roi_above(stub, token_for, traders["low"], Decimal("0.1")), message="low's new win")
    token = first.next_page_token
    while token:
        page = await ranked(page_size=1, page_token=token)
        order += [t.trader_id for t in page.traders]
        token = page.next_page_token
    assert len(order) == len(set(order)) == first.total_size  # nobody twice, nobody lost
    ours = [t for t in order if t in mine]
    assert ours == [traders["high"], traders["mid"], traders["low"]]  # as it stood at the first page
    fresh = [t.trader_id for t in (await ranked(page_size=500)).traders if t.trader_id in mine]
    assert fresh[0] == traders["low"]
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.ListMasterTraders(pb.ListMasterTradersRequest(order_by="nonsense desc"),
                                     metadata=token_for("anyone"))
    assert error_info(bad.value).reason == "INVALID_ORDER_BY"


async def _roi_above(stub, token_for, trader, threshold):
    got = (await stub.GetPerformanceStats(pb.GetPerformanceStatsRequest(trader_id=trader),
                                          metadata=token_for("anyone"))).stats
    return got.roi and Decimal(got.roi) > threshold


async def test_only_fills_replication_signed_count_in_the_statistics(discovery, token_for):
    """A fill forged onto the bus (another key's signature, none, or replication's of other
    bytes) is neither stored nor counted; replication's own, published after them, is."""
    stub, bus = discovery
    trader, account = await master(stub, token_for, "Signed Only")
    before = metrics.FILLS_UNVERIFIED.labels("FILL_BAD_SIGNATURE")._value.get()
    loss = [stats.Fill("BTC/USDT", "buy", Decimal(1), Decimal(100), Decimal(0), at(1, 8), Decimal(10000)),
            stats.Fill("BTC/USDT", "sell", Decimal(1), Decimal(10), Decimal(0), at(1, 9))]

    def event(fill: stats.Fill, n: int) -> events.MasterFill:
        return events.MasterFill(fill_id=f"{account}:{n}", master_account_id=account, symbol=fill.symbol,
                                 side=trading_pb2.SIDE_BUY if fill.side == "buy" else trading_pb2.SIDE_SELL,
                                 quantity=str(fill.quantity), price=str(fill.price), fee="0", fee_currency="USDT",
                                 master_equity=str(fill.equity or ""), execute_time=fill.time)

    other_key = fillsign.Signer(fillsign.generate()[fillsign.SIGNING_VARIABLE])
    await bus.publish(f"fills.master.filled.{account}", event(loss[0], 100), msg_id=f"{account}:100",
                      signer=other_key)
    await publish_unverified_fill(bus, event(loss[1], 101), signature=None)
    tampered = event(loss[1], 102)
    await publish_unverified_fill(bus, tampered, signature=None, sign_payload=event(HISTORY[1], 102).SerializeToString())
    for n, fill in enumerate(HISTORY[:2]):  # +9.79
        await publish(bus, account, fill, n)

    async def counted():
        got = (await stub.GetPerformanceStats(pb.GetPerformanceStatsRequest(trader_id=trader),
                                              metadata=token_for("anyone"))).stats
        return got if got.trade_count else None

    got = await eventually(counted, message="the signed fills counted")
    assert (got.trade_count, got.realized_pnl) == (1, "9.79")
    assert metrics.FILLS_UNVERIFIED.labels("FILL_BAD_SIGNATURE")._value.get() - before >= 2


async def test_a_backlog_of_fills_is_stored_with_one_look_up_and_one_insert_per_batch(make_settings):
    """After downtime (or on a first start) discovery meets the stream's backlog: hundreds of
    fills cost one look-up and one insert, not a transaction each, and one seen before counts once."""
    from sqlalchemy import event, func, select

    from services.discovery.analytics import Analytics
    from services.discovery.server import MIGRATIONS
    from services.discovery.store import MasterFillRow
    from services.kit.bus import Delivery
    from services.kit.db import Database

    db = Database(make_settings("discovery"), MIGRATIONS)
    await db.migrate()
    analytics = Analytics(db)

    def delivery(n: int, fill: stats.Fill) -> Delivery:
        event_ = events.MasterFill(fill_id=f"acct-backlog:{n}", master_account_id="acct-backlog", symbol=fill.symbol,
                                   side=trading_pb2.SIDE_BUY if fill.side == "buy" else trading_pb2.SIDE_SELL,
                                   quantity=str(fill.quantity), price=str(fill.price), fee=str(fill.fee))
        event_.execute_time.FromDatetime(fill.time)
        return Delivery("fills.master.filled.acct-backlog", event_, event_.fill_id, 1, n + 1)

    backlog = [delivery(n, HISTORY[n % len(HISTORY)]) for n in range(300)]
    await analytics.on_fills(backlog[:10])  # taken in before the downtime
    statements: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: statements.append(" ".join(statement.split())))
    await analytics.on_fills(backlog)  # redelivered from the start
    try:
        assert sum("FROM master_fills" in s for s in statements) == 1, statements
        assert sum("INSERT INTO master_fills" in s for s in statements) == 1, statements
        async with db.session() as session:
            stored = await session.scalar(select(func.count()).select_from(MasterFillRow).where(
                MasterFillRow.master_account_id == "acct-backlog"))
        assert stored == 300
    finally:
        await db.close()
