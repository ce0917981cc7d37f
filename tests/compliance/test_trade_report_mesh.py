"""Trade reports end to end: a master trades on the simulator, followers' copies fill there (one
at market, one as a mirrored resting order), and the report compliance exports for each user has
one row per execution at the venue with what the venue itself reported: its trade and order ids,
its time (UTC), side, quantity, price and the fee it charged, plus our unique trade id, the venue
and the account. Checked against the simulator's own trades, not our database."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit.testing import eventually
from tests.replication.test_copy_flow import enrol
from venue_sim import ccxt_config

REPORT_COLUMNS = ["trade_id", "role", "execute_time", "venue", "account_id", "symbol", "side", "quantity", "price",
                  "notional", "fee", "fee_currency", "order_id", "master_fill_id", "venue_trade_id",
                  "venue_order_id", "client_order_id"]


@pytest_asyncio.fixture
async def mesh(copy_mesh):
    started = await copy_mesh(seed=23)
    return started.sim, ComplianceServiceStub(started.compliance.channel), ReplicationServiceStub(
        started.replication.channel), started.replication.running.components["resting"]


async def report(compliance, token, user: str, fmt=pb.REPORT_FORMAT_JSON) -> pb.ExportTradeReportResponse:
    request = pb.ExportTradeReportRequest(user_id=user, format=fmt)
    request.start_time.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
    request.end_time.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    return await compliance.ExportTradeReport(request, metadata=token)


def utc(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def as_venue_reported(trade, *, venue: str, account_id: str, symbol: str) -> dict:
    """What a report row must say of a trade, in the simulator's own words."""
    return {"execute_time": utc(trade.time_ms), "venue": venue, "account_id": account_id, "symbol": symbol,
            "side": trade.side.lower(), "quantity": trade.qty, "price": trade.price, "fee": trade.commission,
            "fee_currency": trade.commission_asset, "venue_trade_id": str(trade.trade_id),
            "venue_order_id": str(trade.order_id)}


def reported(row: dict) -> dict:
    return {**{k: row[k] for k in ("execute_time", "venue", "account_id", "symbol", "side", "fee_currency",
                                   "venue_trade_id", "venue_order_id")},
            **{k: Decimal(row[k]) for k in ("quantity", "price", "fee")}}


def venue_time(row: dict, trade, orders) -> str:
    """The row's time when it is the venue's: its trade's, or (a fill the order's answer listed
    without a time of its own) the order's transaction time. Binance stamps the two alike; the
    simulator may stamp them a millisecond apart."""
    order_time = utc(next(o.time_ms for o in orders if o.order_id == trade.order_id))
    return utc(trade.time_ms) if row["execute_time"] == order_time else row["execute_time"]


async def test_a_reports_rows_are_the_venues_own_executions(mesh, token_for):
    sim, compliance, replication, _ = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    followers = {}
    for name, mirror in (("market", False), ("resting", True)):
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                      mirror_resting_orders=mirror)), metadata=token_for(user))
        followers[name] = user, account.account_id
    await eventually(lambda: sim.stream_subscribed(master), message="master stream watched")
    exchange = ccxt.binance({"apiKey": master_sim.api_key, "secret": master_sim.secret,
                             **ccxt_config(sim.url, rate_limit=False)})
    try:
        await exchange.load_markets()
        # A market buy, copied at market by both; then a resting sell the resting follower mirrors
        # (its copy rests at its venue and fills there) and the market follower copies when it fills.
        await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
        await eventually(lambda: all(len(sim.trades(user)) == 1 for user, _ in followers.values()),
                         message="the buy copied at market")
        price = sim.price("BTCUSDT")
        await exchange.create_order("BTC/USDT", "limit", "sell", 0.005, float(price + 100))
        resting, _ = followers["resting"]
        await eventually(lambda: [o.status for o in sim.orders(resting)] == ["FILLED", "NEW"],
                         message="the sell resting at the follower's venue")
        sim.set_price("BTCUSDT", price + 200)
        await eventually(lambda: all(len(sim.trades(user)) == 2 for user, _ in followers.values()),
                         message="the sell filled for both followers")
    finally:
        await exchange.close()

    expected_counts = {master: 2, **{user: 2 for user, _ in followers.values()}}

    async def all_recorded():
        return all([(await report(compliance, token_for(user), user)).trade_count == count
                    for user, count in expected_counts.items()])
    await eventually(all_recorded, message="compliance recorded every execution")

    every_trade_id = []
    for user, account_id, role in ((master, master_account.account_id, "master"),
                                   *((user, account_id, "follower") for user, account_id in followers.values())):
        reply = await report(compliance, token_for(user), user)
        document = json.loads(reply.content)
        rows = document["trades"]
        venue_trades = sorted(sim.trades(user), key=lambda t: t.time_ms)
        # One row per execution at the venue, each as the venue reported it.
        assert [{**reported(r), "execute_time": venue_time(r, t, sim.orders(user))}
                for r, t in zip(rows, venue_trades)] == [
            as_venue_reported(t, venue="binance", account_id=account_id, symbol="BTC/USDT") for t in venue_trades], \
            (role, rows)
        assert len(rows) == len(venue_trades)
        assert all(r["role"] == role for r in rows)
        # The fee is the venue's own: 0.1 % of what was received (BTC on a buy, USDT on a sell).
        assert all(Decimal(r["fee"]) > 0 for r in rows) and [r["fee_currency"] for r in rows] == ["BTC", "USDT"]
        for row, trade in zip(rows, venue_trades):
            if role == "follower":  # the copy's client order id is the one the venue holds
                assert row["client_order_id"] == trade.client_order_id == row["order_id"]
                assert row["master_fill_id"].startswith(f"{master_account.account_id}:")
            assert Decimal(row["notional"]) == trade.qty * trade.price
        every_trade_id += [r["trade_id"] for r in rows]
        # The CSV says the same in the same columns.
        as_csv = await report(compliance, token_for(user), user, pb.REPORT_FORMAT_CSV)
        csv_rows = list(csv.DictReader(io.StringIO(as_csv.content)))
        assert list(csv_rows[0]) == REPORT_COLUMNS
        assert [dict(r) for r in csv_rows] == [{k: str(v) for k, v in r.items()} for r in rows]
    assert len(set(every_trade_id)) == len(every_trade_id) == 6  # a unique trade id per execution


async def test_a_copy_whose_order_answer_has_no_fees_reports_the_fee_of_the_venues_own_trade(mesh, token_for):
    """On USDⓈ-M perpetuals the order's answer says nothing of fees: the copy's row carries the
    venue trade's own commission (read from the venue's trades), not a made-up zero."""
    sim, compliance, replication, _ = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {}, watch=True, futures_wallet="100000")
    follower, _, account = await enrol(sim, compliance, replication, token_for, "follower",
                                       rep.ACCOUNT_ROLE_FOLLOWER, {}, futures_wallet="50000")
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
        metadata=token_for(follower))
    await eventually(lambda: sim.stream_subscribed(master, "futures"), message="master stream watched")
    exchange = ccxt.binanceusdm({"apiKey": master_sim.api_key, "secret": master_sim.secret,
                                 **ccxt_config(sim.url, rate_limit=False, market="swap")})
    try:
        await exchange.load_markets()
        placed = await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
        assert placed["fee"] is None and not placed["fees"]  # the venue's answer carries no fee
    finally:
        await exchange.close()
    await eventually(lambda: len(sim.trades(follower, "futures")) == 1, message="the buy copied")

    async def recorded():
        return (await report(compliance, token_for(follower), follower)).trade_count == 1
    await eventually(recorded, message="compliance recorded the copy")
    [row] = json.loads((await report(compliance, token_for(follower), follower)).content)["trades"]
    [trade] = sim.trades(follower, "futures")
    assert reported(row) == as_venue_reported(trade, venue="binance", account_id=account.account_id,
                                              symbol="BTC/USDT:USDT")
    assert trade.commission > 0 and trade.commission_asset == "USDT"
    assert row["client_order_id"] == trade.client_order_id and row["trade_id"] == f"{row['order_id']}:{trade.trade_id}"


async def test_a_resting_copys_fill_its_stream_never_delivered_still_reports_the_venues_fee(mesh, token_for):
    """The follower's fill stream goes quiet before its resting copy fills: the poller finds the
    order filled, and the row still carries the venue's own trade, time and fee (on main: the
    step went out with no trade id and a fee of 0)."""
    sim, compliance, replication, resting = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    follower, _, account = await enrol(sim, compliance, replication, token_for, "follower",
                                       rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000"})
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                  mirror_resting_orders=True)), metadata=token_for(follower))
    await eventually(lambda: sim.stream_subscribed(master), message="master stream watched")
    exchange = ccxt.binance({"apiKey": master_sim.api_key, "secret": master_sim.secret,
                             **ccxt_config(sim.url, rate_limit=False)})
    try:
        await exchange.load_markets()
        price = sim.price("BTCUSDT")
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, float(price - 100))
        await eventually(lambda: [o.status for o in sim.orders(follower)] == ["NEW"], message="the copy rests")
        await eventually(lambda: sim.stream_subscribed(follower), message="the copy's fills followed")
        assert sim.mute_streams(follower) > 0  # from here on its fills never arrive on the stream
        sim.set_price("BTCUSDT", price - 200)
        await eventually(lambda: [o.status for o in sim.orders(follower)] == ["FILLED"], message="the copy filled")
    finally:
        await exchange.close()
    await resting.poll()  # what the poller does every few seconds

    async def recorded():
        return (await report(compliance, token_for(follower), follower)).trade_count == 1
    await eventually(recorded, message="compliance recorded the copy's fill")
    [row] = json.loads((await report(compliance, token_for(follower), follower)).content)["trades"]
    [trade] = sim.trades(follower)
    assert reported(row) == as_venue_reported(trade, venue="binance", account_id=account.account_id,
                                              symbol="BTC/USDT")
    assert trade.commission > 0 and row["trade_id"] == f"{trade.client_order_id}:{trade.trade_id}"
