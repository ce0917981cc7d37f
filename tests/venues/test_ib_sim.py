"""The IB simulator below ib_async: the TWS API handshake on the raw socket, IB's account and
order-id rules, CME prices shared by the E-mini and the Micro, and the admin API."""

import asyncio
import struct
from datetime import UTC, datetime

import aiohttp
import pytest
import pytest_asyncio
from ib_async import IB, Future, LimitOrder, MarketOrder

from services.kit.testing import eventually
from venue_sim.ib import IbSimulator
from services.replication.venues.roll import listed, third_friday


@pytest_asyncio.fixture
async def sim():
    simulator = await IbSimulator(seed=1).start()
    simulator.create_account("DU1000001")
    yield simulator
    await simulator.stop()


def framed(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    return (await reader.readexactly(size)).decode().split("\0")[:-1]


async def test_handshake_answers_the_server_version_then_accounts_and_the_next_order_id(sim):
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"API\0" + framed(b"v157..178"))
    version, connection_time = await read_message(reader)
    assert version == "178" and connection_time.endswith(" UTC")
    writer.write(framed(b"71\x002\x005\x00\x00"))  # startApi, version 2, clientId 5, no capabilities
    assert await read_message(reader) == ["15", "1", "DU1000001"]  # managedAccounts
    assert await read_message(reader) == ["9", "1", "1"]  # nextValidId
    writer.close()


async def test_a_client_that_cannot_speak_version_178_is_turned_away(sim):
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"API\0" + framed(b"v100..151"))
    assert await reader.read() == b""  # closed without an answer
    writer.close()


async def test_an_order_without_an_account_on_a_multi_account_login_is_error_436(sim):
    sim.create_account("DU1000002")
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=3)
    try:
        assert sorted(ib.managedAccounts()) == ["DU1000001", "DU1000002"]
        # A bare root lists every quarterly month trading today, nearest first.
        [details, *later] = await ib.reqContractDetailsAsync(Future("ES", exchange="CME"))
        assert [d.contract.lastTradeDateOrContractMonth for d in [details, *later]] == [
            third_friday(*month).strftime("%Y%m%d") for month in listed(datetime.now(UTC).date())]
        trade = ib.placeOrder(details.contract, MarketOrder("BUY", 1))
        await eventually(lambda: trade.log[-1].errorCode == 436, message="error 436")
        assert sim.book.orders == []
    finally:
        ib.disconnect()


async def test_es_and_mes_share_a_price_and_a_resting_limit_fills_when_it_is_crossed(sim):
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=4, account="DU1000001")
    try:
        [details, *_] = await ib.reqContractDetailsAsync(Future("MES", exchange="CME"))
        trade = ib.placeOrder(details.contract, LimitOrder("BUY", 2, 4990.25, account="DU1000001", orderRef="r1"))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        async with aiohttp.ClientSession(base_url=sim.admin_url) as admin:
            async with admin.post("/_sim/prices", json={"symbol": "ES", "price": "4990.00"}) as response:
                assert (await response.json())["MES"] == "4990"
            await eventually(lambda: trade.orderStatus.status == "Filled", message="the limit filled")
            assert [(f.execution.shares, f.execution.price) for f in trade.fills] == [(2.0, 4990.25)]
            async with admin.get("/_sim/accounts/DU1000001/orders", params={"orderRef": "r1"}) as response:
                [order] = await response.json()
            assert (order["status"], order["filled"], order["avgFillPrice"]) == ("Filled", "2", "4990.25")
            async with admin.get("/_sim/accounts/DU1000001/positions") as response:
                assert await response.json() == [{"symbol": "MES", "position": "2", "avgPrice": "4990.25"}]
    finally:
        ib.disconnect()


@pytest.mark.parametrize("ids,code", [((5, 5), 103), ((9, 6), 103)])
async def test_order_ids_only_increase_per_client(sim, ids, code):
    ib = IB()
    await ib.connectAsync("127.0.0.1", sim.port, clientId=8, account="DU1000001")
    try:
        [details, *_] = await ib.reqContractDetailsAsync(Future("ES", exchange="CME"))
        errors = []
        ib.errorEvent += lambda req_id, error_code, msg, contract: errors.append((req_id, error_code))
        for order_id in ids:
            order = MarketOrder("BUY", 1, account="DU1000001", orderRef=f"id-{order_id}-{len(errors)}")
            order.orderId = order_id
            ib.client.placeOrder(order_id, details.contract, order)
        await eventually(lambda: (ids[1], code) in errors, message=f"error {code}")
        assert [o.order_id for o in sim.book.orders] == [ids[0]]
        assert sim.book.next_valid_id(8) == ids[0] + 1
    finally:
        ib.disconnect()
    # nextValidId after a reconnect continues past every id the client used
    again = IB()
    await again.connectAsync("127.0.0.1", sim.port, clientId=8, account="DU1000001")
    assert again.client._reqIdSeq >= ids[0] + 1  # noqa: SLF001
    again.disconnect()
