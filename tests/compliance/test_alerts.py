"""Compliance monitoring: an order far larger than the user's usual, a burst of orders, and a
login from an address the user has never used raise alerts that operators see (and NATS hears)."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.replication.v1 import replication_events_pb2 as rep_events
from services.compliance import anomaly
from services.kit.testing import eventually
from tests.compliance.conftest import master_fill, publish_fill

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


async def alerts_for(svc, operator, user: str) -> list[pb.ComplianceAlert]:
    reply = await svc.public.ListComplianceAlerts(pb.ListComplianceAlertsRequest(user_id=user), metadata=operator)
    return list(reply.alerts)


async def trade_count(svc, operator, user: str) -> int:
    request = pb.ExportTradeReportRequest(user_id=user)
    request.start_time.FromDatetime(T0 - timedelta(days=1))
    request.end_time.FromDatetime(T0 + timedelta(days=1))
    return (await svc.public.ExportTradeReport(request, metadata=operator)).trade_count


async def test_a_ten_times_order_and_a_burst_raise_one_alert_each(start_compliance, backend, bus, operator,
                                                                  token_for):
    svc = await start_compliance()
    steady, bursty = f"m-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
    heard: list[events_pb.ComplianceAlertRaised] = []

    async def hear(_subject, event):
        heard.append(event)

    await bus.subscribe("compliance.alert.raised.>", hear)
    for n in range(10):  # ten ordinary orders, a minute apart, with ordinary variation
        await publish_fill(bus, master_fill(steady, n, T0 + timedelta(minutes=n), quantity=("1", "1.2", "0.9")[n % 3]))
    await publish_fill(bus, master_fill(steady, 10, T0 + timedelta(minutes=10), quantity="4"))  # 4x: fine
    await publish_fill(bus, master_fill(steady, 11, T0 + timedelta(minutes=11), quantity="10"))  # 10x
    for n in range(25):  # 25 orders within 25 seconds
        await publish_fill(bus, master_fill(bursty, n, T0 + timedelta(seconds=n)))

    await eventually(lambda: _all_in(svc, operator, {steady: 12, bursty: 25}), message="every trade recorded")
    size_alerts = await alerts_for(svc, operator, steady)
    assert [(a.kind, a.metadata["trade_id"]) for a in size_alerts] == [
        (anomaly.ORDER_SIZE_ANOMALY, f"acct-{steady}:11")]
    assert Decimal(size_alerts[0].metadata["median"]) == 100 and Decimal(size_alerts[0].metadata["ratio"]) == 10
    burst_alerts = await alerts_for(svc, operator, bursty)
    assert [a.kind for a in burst_alerts] == [anomaly.ORDER_BURST]  # one alert for the burst, not one per order
    assert burst_alerts[0].metadata["count"] == "21"
    await eventually(lambda: {e.alert.alert_id for e in heard} >= {size_alerts[0].alert_id,
                                                                     burst_alerts[0].alert_id})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ListComplianceAlerts(pb.ListComplianceAlertsRequest(), metadata=token_for(steady))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_master_trading_every_two_seconds_is_measured_against_their_own_pattern(
        start_compliance, bus, operator):
    """Measured on main: a master trading every 2 s raised 111 ORDER_BURST alerts in 30 minutes.
    Their first minute is a burst (nothing is known of them yet), then that is their pattern; a
    minute at four times their rate is a burst again, raised once."""
    svc = await start_compliance()
    master = f"m-{uuid.uuid4().hex[:8]}"
    steady = [T0 + timedelta(seconds=2 * n) for n in range(31 * 30)]  # 31 minutes, every 2 s
    faster = [steady[-1] + timedelta(seconds=0.5 * (n + 1)) for n in range(120)]  # then every 0.5 s
    for n, moment in enumerate(steady + faster):
        await publish_fill(bus, master_fill(master, n, moment))
    total = len(steady) + len(faster)
    await eventually(lambda: _all_in(svc, operator, {master: total}), timeout=120, message="every trade recorded")
    bursts = [a for a in await alerts_for(svc, operator, master) if a.kind == anomaly.ORDER_BURST]
    assert len(bursts) == 2, [a.message for a in bursts]
    later, first = bursts  # newest first
    assert (first.metadata["count"], first.metadata["usual"], first.metadata["limit"]) == ("21", "", "20")
    # Against the master's own 30 orders a minute: more than 3x that in the faster minute.
    assert Decimal(later.metadata["usual"]) == 30 and Decimal(later.metadata["limit"]) == 90
    assert Decimal(later.metadata["count"]) == 91 and "usual 30" in later.message


async def test_a_master_stepping_their_size_up_raises_one_size_alert(start_compliance, bus, operator):
    """Ten orders of 1, then the master trades 10 a time: on main each large order until the
    median caught up raised its own ORDER_SIZE_ANOMALY; one run of them is one alert."""
    svc = await start_compliance()
    master = f"m-{uuid.uuid4().hex[:8]}"
    sizes = ["1"] * 10 + ["10"] * 8
    for n, quantity in enumerate(sizes):
        await publish_fill(bus, master_fill(master, n, T0 + timedelta(minutes=n), quantity=quantity))
    await eventually(lambda: _all_in(svc, operator, {master: len(sizes)}), message="every trade recorded")
    alerts = await alerts_for(svc, operator, master)
    assert [(a.kind, a.metadata["trade_id"]) for a in alerts] == [(anomaly.ORDER_SIZE_ANOMALY, f"acct-{master}:10")]


def copy_of(fill, follower: str, quantity: str):
    """A follower's copy of a master fill, filled, as replication announces it."""
    order = rep_events.FollowerOrder(
        order_id=f"c-{follower}-{fill.venue_trade_id}", follower_id=follower, follower_account_id=f"acct-{follower}",
        master_fill_id=fill.fill_id, symbol=fill.symbol, side=fill.side, quantity=quantity, filled_quantity=quantity,
        average_fill_price=fill.price, status=rep_events.FOLLOWER_ORDER_STATUS_FILLED)
    copy = rep_events.FollowerOrderFilled(order=order, quantity=quantity, price=fill.price,
                                          venue_trade_id=f"v{fill.venue_trade_id}", fee="0.01", fee_currency="USDT")
    copy.execute_time.CopyFrom(fill.execute_time)
    return copy


async def test_a_masters_finding_is_raised_once_not_again_for_each_copy(start_compliance, bus, operator):
    """Measured on main: a master's unusual order and burst, copied by two followers, raised an
    ORDER_SIZE_ANOMALY and an ORDER_BURST for each follower too (their copies follow the master's
    pattern, so they looked just as unusual): 3 alerts of each for one finding, N+1 with N
    followers. A copy is the master's decision, measured once, at the master."""
    svc = await start_compliance()
    master, followers = f"m-{uuid.uuid4().hex[:8]}", [f"f-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    fills = [master_fill(master, n, T0 + timedelta(minutes=n)) for n in range(10)]  # ten ordinary orders
    fills.append(master_fill(master, 10, T0 + timedelta(minutes=10), quantity="10"))  # then a 10x one
    fills += [master_fill(master, 11 + n, T0 + timedelta(minutes=11, seconds=n)) for n in range(25)]  # a burst
    for fill in fills:
        await publish_fill(bus, fill)
        for i, follower in enumerate(followers):
            copy = copy_of(fill, follower, str(Decimal(fill.quantity) / (i + 2)))
            await bus.publish(f"copies.order.filled.{follower}", copy, msg_id=f"{copy.order.order_id}:filled")
    await eventually(lambda: _all_in(svc, operator, {master: len(fills), **{f: len(fills) for f in followers}}),
                     message="every trade recorded")
    assert sorted(a.kind for a in await alerts_for(svc, operator, master)) == [anomaly.ORDER_BURST,
                                                                               anomaly.ORDER_SIZE_ANOMALY]
    for follower in followers:
        assert await alerts_for(svc, operator, follower) == []


async def test_a_masters_burst_counts_their_own_orders_not_the_copies_they_receive(start_compliance, bus, operator):
    """A master who also follows someone: 15 orders of their own in a minute is no burst, whatever
    the 15 copies they received meanwhile (on main: 30 orders, past the floor of 20, an alert)."""
    svc = await start_compliance()
    master, other = f"m-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
    for n in range(15):
        await publish_fill(bus, master_fill(master, n, T0 + timedelta(seconds=2 * n)))
        theirs = master_fill(other, n, T0 + timedelta(seconds=2 * n + 1))
        await publish_fill(bus, theirs)
        copy = copy_of(theirs, master, "1")
        await bus.publish(f"copies.order.filled.{master}", copy, msg_id=f"{copy.order.order_id}:filled")
    await eventually(lambda: _all_in(svc, operator, {master: 30, other: 15}), message="every trade recorded")
    assert await alerts_for(svc, operator, master) == []


async def _all_in(svc, operator, expected: dict[str, int]) -> bool:
    return all([await trade_count(svc, operator, user) == count for user, count in expected.items()])


async def test_a_login_from_a_new_address_raises_an_alert(start_compliance, operator):
    svc = await start_compliance()
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user = (await svc.public.RegisterUser(pb.RegisterUserRequest(email=email, password=PASSWORD))).user.user_id

    async def login_from(address: str) -> None:  # the gateway passes the browser's address on
        await svc.public.Login(pb.LoginRequest(email=email, password=PASSWORD),
                               metadata=(("x-forwarded-for", address),))

    await login_from("203.0.113.10")  # the first login: nothing to compare with
    await login_from("203.0.113.10")
    assert await alerts_for(svc, operator, user) == []
    await login_from("198.51.100.77")
    await login_from("198.51.100.77")  # once known, no longer new
    alerts = await alerts_for(svc, operator, user)
    assert [(a.kind, a.metadata["address"]) for a in alerts] == [(anomaly.NEW_LOGIN_ADDRESS, "198.51.100.77")]
    everyone = (await svc.public.ListComplianceAlerts(pb.ListComplianceAlertsRequest(page_size=1),
                                                      metadata=operator))
    assert len(everyone.alerts) == 1


def test_only_a_trusted_proxy_may_say_where_a_call_comes_from():
    trusted = anomaly.trusted_proxies("127.0.0.0/8,10.0.0.0/8")
    assert anomaly.client_address("ipv4:127.0.0.1:5000", "198.51.100.7", trusted) == "198.51.100.7"
    assert anomaly.client_address("ipv4:203.0.113.9:5000", "198.51.100.7", trusted) == "203.0.113.9"
    # A client that sends its own header through the proxy chain is judged by the last untrusted hop.
    assert anomaly.client_address("ipv4:10.0.0.2:5000", "1.2.3.4, 198.51.100.7, 10.0.0.5", trusted) == "198.51.100.7"
    assert anomaly.client_address("ipv6:[::1]:5000", "", anomaly.trusted_proxies("::1/128")) == "::1"
    assert anomaly.client_address("ipv4:127.0.0.1:5000", "not-an-ip", trusted) == "127.0.0.1"
