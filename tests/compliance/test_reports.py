"""Trade reports: built from the fills compliance hears on NATS, holding exactly the trades of
the requested half-open period, for the user themselves or an operator."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.replication.v1 import replication_events_pb2 as rep_events
from copytrade.type.v1 import trading_pb2
from services.kit.errors import error_info
from services.kit.testing import eventually
from tests.compliance.conftest import master_fill, publish_fill

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


def report_request(user: str, start: datetime, end: datetime, fmt=pb.REPORT_FORMAT_CSV):
    request = pb.ExportTradeReportRequest(user_id=user, format=fmt)
    request.start_time.FromDatetime(start)
    request.end_time.FromDatetime(end)
    return request


async def test_a_report_holds_exactly_the_periods_trades(start_compliance, backend, bus, token_for, operator):
    svc = await start_compliance()
    master, other = f"m-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
    at = {1: START - timedelta(microseconds=1), 2: START, 3: START + timedelta(minutes=30),
          4: END - timedelta(microseconds=1), 5: END, 6: END + timedelta(days=1)}
    for n, moment in at.items():
        await publish_fill(bus, master_fill(master, n, moment, quantity=f"0.{n}"))
    again = master_fill(master, 3, at[3], quantity="0.3")
    await publish_fill(bus, again, msg_id=f"{again.fill_id}:republished")  # a second message, one trade still
    await publish_fill(bus, master_fill(other, 1, at[3]))  # someone else's
    order = rep_events.FollowerOrder(order_id=f"ord-{uuid.uuid4().hex[:6]}", follower_id=master,
                                     follower_account_id="acct-f", master_fill_id="acct-x:1", symbol="ETH/USDT",
                                     side=1, quantity="2", filled_quantity="2", average_fill_price="3000")
    copy = rep_events.FollowerOrderFilled(order=order, quantity="2", price="3000", venue_trade_id="vt-1",
                                          venue=trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="bybit"),
                                          fee="0.0006", fee_currency="ETH")  # the venue's own fill's fee
    copy.execute_time.FromDatetime(START + timedelta(minutes=45))  # the same user, copying someone
    await bus.publish(f"copies.order.filled.{master}", copy, msg_id=f"{order.order_id}:filled")

    everything = report_request(master, START - timedelta(days=7), END + timedelta(days=7))

    async def all_arrived():  # the other master's fill went out last, so the republished one is in
        theirs = await svc.public.ExportTradeReport(report_request(other, START, END), metadata=operator)
        reply = await svc.public.ExportTradeReport(everything, metadata=token_for(master))
        return theirs.trade_count == 1 and reply.trade_count == 7

    await eventually(all_arrived, message="compliance has every trade")

    reply = await svc.public.ExportTradeReport(report_request(master, START, END), metadata=token_for(master))
    assert reply.content_type.startswith("text/csv") and reply.trade_count == 4
    rows = list(csv.DictReader(io.StringIO(reply.content)))
    assert [r["trade_id"] for r in rows] == [f"acct-{master}:2", f"acct-{master}:3", f"{order.order_id}:vt-1",
                                             f"acct-{master}:4"]
    assert [r["role"] for r in rows] == ["master", "master", "follower", "master"]
    assert rows[0]["execute_time"] == "2026-02-02T09:00:00.000000Z" and rows[1]["quantity"] == "0.3"
    assert rows[2]["notional"] == "6000" and rows[2]["master_fill_id"] == "acct-x:1"
    # A follower's row names its venue and account and carries the fee its venue charged.
    assert (rows[2]["venue"], rows[2]["account_id"], rows[2]["fee"], rows[2]["fee_currency"]) == (
        "bybit", "acct-f", "0.0006", "ETH")
    assert rows[2]["order_id"] == order.order_id and rows[2]["side"] == "buy"
    assert (rows[1]["venue"], rows[1]["fee"], rows[1]["order_id"]) == ("binance", "0.1", "o3")

    as_json = await svc.public.ExportTradeReport(report_request(master, START, END, pb.REPORT_FORMAT_JSON),
                                                 metadata=operator)  # operators see anyone's
    document = json.loads(as_json.content)
    assert as_json.content_type == "application/json" and document["trade_count"] == 4
    assert [t["trade_id"] for t in document["trades"]] == [r["trade_id"] for r in rows]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ExportTradeReport(report_request(master, START, END), metadata=token_for(other))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ExportTradeReport(report_request(master, END, START), metadata=token_for(master))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error_info(err.value).reason, error_info(err.value).metadata["field"]) == ("INVALID_PERIOD", "start_time")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ExportTradeReport(pb.ExportTradeReportRequest(user_id=master), metadata=token_for(master))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_fee_the_venue_did_not_report_is_empty_not_zero(start_compliance, bus, token_for):
    svc = await start_compliance()
    master = f"m-{uuid.uuid4().hex[:8]}"
    fill = master_fill(master, 1, START)
    fill.fee, fill.fee_currency, fill.client_order_id = "", "", "mine-1"  # a signal fill that gave no fee
    await publish_fill(bus, fill)

    async def arrived():
        return (await svc.public.ExportTradeReport(report_request(master, START, END),
                                                   metadata=token_for(master))).trade_count == 1
    await eventually(arrived, message="compliance has the trade")
    reply = await svc.public.ExportTradeReport(report_request(master, START, END), metadata=token_for(master))
    [row] = list(csv.DictReader(io.StringIO(reply.content)))
    assert (row["fee"], row["fee_currency"]) == ("", "")
    assert (row["venue_trade_id"], row["venue_order_id"], row["client_order_id"]) == ("1", "o1", "mine-1")
