"""A copy the venue accepted ends with exactly one risk commit, one filled event on the bus (a
copy filled at once has no placed event) and its one audit record, even when risk or NATS is
away right after the venue's acknowledgement: the effects are recorded as pending with the
acknowledgement and redone (each idempotently) once the part is back, by the fill's retry or by
the sweeper."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import nats
import pytest
import pytest_asyncio
from nats.js import api
from sqlalchemy import select

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.kit.natsd import NatsServer, free_port
from services.kit.testing import eventually
from services.replication.client_order_id import client_order_id
from services.risk.store import PositionRow, ReservationRow
from tests.replication.test_worker_crash import copied_by
from venue_sim import Simulator, venue_urls


@pytest_asyncio.fixture
async def own_nats(tmp_path):
    """A nats-server this test may stop and start again on the same port and store."""
    server = await NatsServer(tmp_path / "jetstream", port=free_port()).start()
    yield server
    await server.stop()


async def bus_messages(url: str, subject: str) -> list:
    """Every message the COPIES stream holds on subject, with its headers."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        sub = await js.pull_subscribe(subject, stream="COPIES", config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.NONE, inactive_threshold=5.0))
        found = []
        while True:
            try:
                found += await sub.fetch(100, timeout=0.5)
            except TimeoutError:
                return found
    finally:
        await client.close()


@pytest.mark.parametrize("outage", ["risk", "nats"])
async def test_a_copy_accepted_by_the_venue_gets_one_commit_one_event_and_one_audit_record_after_an_outage(
        own_nats, start_service, token_for, caplog, outage):
    caplog.set_level(logging.WARNING, logger="copytrade.replication.copier")
    sim = await Simulator(seed=5).start()
    risk_listen = f"127.0.0.1:{free_port()}"
    compliance = await start_service("compliance", nats_url=own_nats.url)
    risk = await start_service("risk", nats_url=own_nats.url, listen=risk_listen)
    addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk_listen}
    replication = await start_service("replication", nats_url=own_nats.url, addresses=addresses,
                                      venue_rate_limit=False, venue_urls=venue_urls(sim.url),
                                      fill_ack_wait_s=3.0)
    try:
        from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
        from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
        comp_stub, rep_stub = ComplianceServiceStub(compliance.channel), ReplicationServiceStub(replication.channel)
        master, master_account, [(user, account_id)] = await copied_by(sim, comp_stub, rep_stub, token_for, 1)
        # The venue executes the copy at once and holds its answer back: time to take the part away.
        sim.inject(kind="latency_after_accept", account=user, latency_ms=4_000)
        reply = await rep_stub.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id="T-effects", symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
        cid = client_order_id(reply.fill.fill_id, account_id)
        await eventually(lambda: sim.orders(user), message="the copy executed at the venue")
        if outage == "risk":
            await risk.running.stop(grace=0)
        else:
            await own_nats.stop()

        async def acknowledged():
            orders = (await rep_stub.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                        metadata=token_for(user))).orders
            return [o.status for o in orders] == [events.FOLLOWER_ORDER_STATUS_FILLED]
        await eventually(acknowledged, timeout=20, message="the venue's acknowledgement recorded")
        # The copier has tried the effects (risk's commit, then the events) behind the fill and
        # failed: their marker is left for the sweeper.
        await eventually(lambda: any("copy effects not all done" in r.getMessage() for r in caplog.records), timeout=20,
                         message="the copier's effects failed while the part was away")
        if outage == "risk":
            risk = await start_service("risk", nats_url=own_nats.url, listen=risk_listen)
        else:
            await own_nats.start()

        risk_db = risk.running.components["book"].db

        async def committed():
            async with risk_db.session() as session:
                reservations = (await session.execute(select(ReservationRow).where(
                    ReservationRow.user_id == user))).scalars().all()
                position = await session.get(PositionRow, (user, "BTC/USDT"))
            return ([r.status for r in reservations] == ["COMMITTED"]
                    and position is not None and position.signed_quantity == Decimal("0.002"))
        await eventually(committed, timeout=30, message="risk committed the copy")

        async def filled_events():
            return [m for m in await bus_messages(own_nats.url, f"copies.order.filled.{user}")]
        found = await eventually(filled_events, timeout=30, message="the filled event on the bus")
        assert [m.headers.get("Nats-Msg-Id") for m in found] == [f"{cid}:filled"]
        assert await bus_messages(own_nats.url, f"copies.order.placed.{user}") == []  # filled at once

        async def audited():
            records = (await comp_stub.ListAuditEvents(comp.ListAuditEventsRequest(
                user_id=user, action_prefix="copy."), metadata=token_for("op", "operator"))).events
            actions = sorted(r.action for r in records if r.action in ("copy.placed", "copy.filled"))
            return actions if actions == ["copy.filled"] else None
        await eventually(audited, timeout=30, message="the copy's audit records")
        # Settled (the marker is cleared once the events are out): still exactly one of each.
        from services.replication.store import FollowerOrderRow

        async def settled():
            async with replication.running.components["copier"].db.session() as session:
                return (await session.get(FollowerOrderRow, cid)).effects_pending is False
        await eventually(settled, timeout=30, message="the copy's effects marked done")
        assert len(await bus_messages(own_nats.url, f"copies.order.filled.{user}")) == 1
        assert await committed()
        assert await audited()
    finally:
        await sim.stop()


async def test_the_sweeper_finishes_effects_a_dead_worker_left_pending_and_makes_none_twice(
        own_nats, start_service, token_for):
    """A worker that recorded the venue's acknowledgement and died before its effects, on a fill
    nobody redelivers: the sweeper commits with risk and publishes, once."""
    sim = await Simulator(seed=6).start()
    try:
        compliance = await start_service("compliance", nats_url=own_nats.url)
        risk = await start_service("risk", nats_url=own_nats.url)
        addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
        replication = await start_service("replication", addresses=addresses, venue_rate_limit=False,
                                          venue_urls=venue_urls(sim.url), nats_url=own_nats.url)
        from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
        from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
        from services.replication.store import FollowerOrderRow
        from sqlalchemy import update
        comp_stub, rep_stub = ComplianceServiceStub(compliance.channel), ReplicationServiceStub(replication.channel)
        master, master_account, [(user, account_id)] = await copied_by(sim, comp_stub, rep_stub, token_for, 1)
        copier = replication.running.components["copier"]
        # The effects never run here: as if the worker died right after writing the acknowledgement.
        effects, copier._effects = copier._effects, _noop
        reply = await rep_stub.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id="T-swept", symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
        cid = client_order_id(reply.fill.fill_id, account_id)

        async def pending():
            async with copier.db.session() as session:
                row = await session.get(FollowerOrderRow, cid)
            return row is not None and row.status == events.FOLLOWER_ORDER_STATUS_FILLED and row.effects_pending
        await eventually(pending, message="the acknowledgement recorded, its effects pending")
        copier._effects = effects
        async with copier.db.session() as session:  # acknowledged longer ago than the sweeper's grace
            await session.execute(update(FollowerOrderRow).where(FollowerOrderRow.order_id == cid).values(
                ack_time=datetime.now(UTC) - timedelta(minutes=1)))
        sweeper = replication.running.components["sweeper"]
        assert await sweeper.sweep() == 1
        assert await sweeper.sweep() == 0  # done: nothing left to redo

        risk_db = risk.running.components["book"].db
        async with risk_db.session() as session:
            reservations = (await session.execute(select(ReservationRow).where(ReservationRow.user_id == user))
                            ).scalars().all()
            position = await session.get(PositionRow, (user, "BTC/USDT"))
        assert [r.status for r in reservations] == ["COMMITTED"] and position.signed_quantity == Decimal("0.002")
        filled = await bus_messages(own_nats.url, f"copies.order.filled.{user}")
        assert [m.headers.get("Nats-Msg-Id") for m in filled] == [f"{cid}:filled"]

        async def audited():
            records = (await comp_stub.ListAuditEvents(comp.ListAuditEventsRequest(
                user_id=user, action_prefix="copy.filled"), metadata=token_for("op", "operator"))).events
            return [r.resource for r in records] == [f"order:{cid}"]
        await eventually(audited, message="one audit record of the fill")
    finally:
        await sim.stop()


async def _noop(rows) -> None:
    return None


async def test_a_fill_copied_while_risk_is_away_leaves_no_copy_pending_and_is_made_once_when_risk_is_back(
        own_nats, start_service, token_for, caplog):
    """Copies are fenced while risk decides: when risk cannot decide, their records go again, so
    the follower sees no copy stuck PENDING meanwhile, nothing reaches her venue, and once risk
    is back the copy is made once, with no lookup at the venue first."""
    caplog.set_level(logging.WARNING, logger="copytrade.replication.copier")
    sim = await Simulator(seed=7).start()
    risk_listen = f"127.0.0.1:{free_port()}"
    try:
        compliance = await start_service("compliance", nats_url=own_nats.url)
        risk = await start_service("risk", nats_url=own_nats.url, listen=risk_listen)
        addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk_listen}
        replication = await start_service("replication", nats_url=own_nats.url, addresses=addresses,
                                          venue_rate_limit=False, venue_urls=venue_urls(sim.url))
        from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
        from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
        comp_stub, rep_stub = ComplianceServiceStub(compliance.channel), ReplicationServiceStub(replication.channel)
        master, master_account, [(user, account_id)] = await copied_by(sim, comp_stub, rep_stub, token_for, 1)
        await risk.running.stop(grace=0)
        reply = await rep_stub.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id="T-risk-away", symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
        cid = client_order_id(reply.fill.fill_id, account_id)

        def tried_twice():
            return sum("copying fill" in r.getMessage() and "trying again" in r.getMessage()
                       for r in caplog.records) >= 2
        await eventually(tried_twice, timeout=20, message="the copier trying the fill again while risk is away")

        async def listed():
            return list((await rep_stub.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                           metadata=token_for(user))).orders)
        assert await listed() == [] and sim.orders(user) == []
        risk = await start_service("risk", nats_url=own_nats.url, listen=risk_listen)

        async def filled():
            orders = await listed()
            return [o.status for o in orders] == [events.FOLLOWER_ORDER_STATUS_FILLED] and orders
        [order] = await eventually(filled, timeout=30, message="the copy made once risk is back")
        assert order.order_id == cid and len(sim.orders(user)) == 1
        asked = [name for _, name, who in sim.request_log if who == user and name.startswith("GET /api/v3/order")]
        assert asked == [], "a copy never sent was looked up at the venue"
    finally:
        await sim.stop()
