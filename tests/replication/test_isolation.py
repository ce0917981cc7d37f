"""No tenant can delay or steer another's copies (issue 20, items 6 and 7): masters are consumed
concurrently, a copy that cannot be made fails alone and at once with its reason, and only
fills replication stored, with the payload it stored, are copied. Timings are measured from the
other tenants' side: when their follower orders reach the venue simulator."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import InvalidOperation

import nats
import pytest

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.kit import errors
from services.kit.bus import MSG_ID_HEADER, TYPE_HEADER
from services.kit.testing import eventually
from services.replication import fills, isolation
from services.replication.store import CopySessionRow, VenueAccountRow
from tests.replication.test_copy_flow import SPOT, enrol, venue_orders

ON_TIME_S = 5.0  # a copy normally reaches the venue well under a second after its master's fill


@dataclass
class Follower:
    user: str
    account: rep.VenueAccount
    config_id: str


@dataclass
class Master:
    user: str
    account: rep.VenueAccount
    followers: list[Follower]


async def master_with_followers(mesh, token_for, name: str, followers: int = 1,
                                multiplier: str = "1") -> Master:
    from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
    from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub

    compliance = ComplianceServiceStub(mesh.compliance.channel)
    replication = ReplicationServiceStub(mesh.replication.channel)
    user, _, account = await enrol(mesh.sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_MASTER, {})
    master = Master(user, account, [])
    for n in range(followers):
        follower, _, follower_account = await enrol(mesh.sim, compliance, replication, token_for, f"{name}-f{n}",
                                                    rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000"})
        session = (await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=follower_account.account_id, master_account_id=account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier=multiplier)),
            metadata=token_for(follower))).session
        master.followers.append(Follower(follower, follower_account, session.config_id))
    return master


async def submit(mesh, token_for, master: Master, trade_id: str, quantity: str = "0.01") -> events.MasterFill:
    from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub

    return (await ReplicationServiceStub(mesh.replication.channel).SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master.account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity=quantity, price="64000"), metadata=token_for(master.user))).fill


async def orders_of(mesh, token_for, follower: Follower) -> list:
    from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub

    return list((await ReplicationServiceStub(mesh.replication.channel).ListFollowerOrders(
        rep.ListFollowerOrdersRequest(), metadata=token_for(follower.user))).orders)


# --- 6. masters are consumed concurrently -------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_slow_master_never_delays_another_masters_copies(copy_mesh, token_for, backend):
    mesh = await copy_mesh(seed=11)
    slow = await master_with_followers(mesh, token_for, "slow")
    quick = await master_with_followers(mesh, token_for, "quick")
    slow_follower, quick_follower = slow.followers[0].user, quick.followers[0].user
    # The slow master's follower's venue takes 8 s to answer an order.
    fault = mesh.sim.inject(kind="latency", account=slow_follower, latency_ms=8000)
    await submit(mesh, token_for, slow, "S-1")
    await eventually(lambda: fault.hits == 1, message="the slow master's copy waiting at its follower's venue")

    started = time.monotonic()
    await submit(mesh, token_for, quick, "Q-1")
    await eventually(lambda: venue_orders(mesh.sim, quick_follower), timeout=30, message="the other master's copy")
    took = time.monotonic() - started
    assert not venue_orders(mesh.sim, slow_follower), "the slow copy is still at the venue's door"
    assert took < ON_TIME_S, f"the other master's copy took {took:.1f}s behind a slow master"
    await eventually(lambda: venue_orders(mesh.sim, slow_follower), timeout=30, message="the slow copy, in the end")


# --- 7. only stored fills are copied ------------------------------------------------------------

async def test_a_fill_on_the_bus_that_replication_did_not_store_is_refused_and_raises_an_alert(
        copy_mesh, nats_server, token_for):
    mesh = await copy_mesh(seed=12)
    master = await master_with_followers(mesh, token_for, "target")
    follower = master.followers[0]
    account_id = master.account.account_id
    stored = await submit(mesh, token_for, master, "T-1")
    await eventually(lambda: len(venue_orders(mesh.sim, follower.user)) == 1, message="the real fill copied")

    nc = await nats.connect(nats_server.url)  # anyone with a NATS connection, not through replication
    alerts: list[events.MasterFillRejected] = []

    async def on_alert(msg) -> None:
        alerts.append(events.MasterFillRejected.FromString(msg.data))
    try:
        await nc.subscribe(f"fills.master.rejected.{account_id}", cb=on_alert)
        js = nc.jetstream()
        subject = fills.fill_subject(account_id)

        async def publish(event, msg_id: str) -> None:
            await js.publish(subject, event.SerializeToString(),
                             headers={MSG_ID_HEADER: msg_id, TYPE_HEADER: event.DESCRIPTOR.full_name})
        forged = events.MasterFill(fill_id=f"{account_id}:FORGED-1", master_account_id=account_id,
                                   master_id=master.user, venue=SPOT, venue_trade_id="FORGED-1", symbol="BTC/USDT",
                                   side=trading_pb2.SIDE_BUY, quantity="0.25", price="64000")
        forged.execute_time.GetCurrentTime()
        await publish(forged, forged.fill_id)
        tampered = events.MasterFill()
        tampered.CopyFrom(stored)
        tampered.quantity = "2"  # the stored fill, 200 times the size
        await publish(tampered, f"{stored.fill_id}:tampered")
        await publish(events.CopyRefused(), f"{account_id}:not-a-fill")  # another event type altogether

        await eventually(lambda: len(alerts) == 3, timeout=15, message="three alerts")
        assert sorted((a.fill.fill_id, a.refusal.reason) for a in alerts) == sorted([
            (forged.fill_id, "FILL_NOT_STORED"), (stored.fill_id, "FILL_PAYLOAD_MISMATCH"),
            ("", "NOT_A_MASTER_FILL")])
        assert all(a.subject == subject and a.stream_sequence > 0 and a.refusal.message for a in alerts)
        assert [a.fill.quantity for a in alerts if a.fill.fill_id == stored.fill_id] == ["2"]  # what came in
        # Kept in the FILLS stream, for compliance and operators.
        kept = await js.get_last_msg("FILLS", f"fills.master.rejected.{account_id}")
        assert events.MasterFillRejected.FromString(kept.data).refusal.reason

        async def consumer_idle():
            info = await js.consumer_info("FILLS", "replication")
            return info.num_pending == 0 and info.num_ack_pending == 0
        await eventually(consumer_idle, message="all three consumed")
        assert len(venue_orders(mesh.sim, follower.user)) == 1  # neither became an order
        assert [o.master_fill_id for o in await orders_of(mesh, token_for, follower)] == [stored.fill_id]
    finally:
        await nc.close()


# --- 7. a copy that cannot be made fails alone, at once ------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_poison_fills_settings_and_venues_fail_alone_at_once_and_others_stay_on_time(
        copy_mesh, token_for, backend):
    """Rows stored before the edges validated them: a fill of quantity Infinity, a session with
    a multiplier of 1E+999999999, a follower's account on a venue nobody supports; and a copy
    risk refuses as INVALID_ARGUMENT. Each copy they touch is refused at once with its reason;
    everyone else's copies stay on time: the other followers of the same masters, and another
    master's."""
    mesh = await copy_mesh(seed=13)
    components = mesh.replication.running.components
    db = components["copier"].db
    poison_fill = await master_with_followers(mesh, token_for, "p-fill")
    poison_settings = await master_with_followers(mesh, token_for, "p-settings", followers=2)
    poison_venue = await master_with_followers(mesh, token_for, "p-venue", followers=2)
    # Within every edge's bounds, yet beyond what risk takes: 1e12 (the largest fill) x 1,000 (the
    # largest multiplier). Risk answers INVALID_ARGUMENT: asking again gets the same answer.
    oversized = await master_with_followers(mesh, token_for, "p-risk", multiplier="1000")
    bystander = await master_with_followers(mesh, token_for, "bystander")
    async with db.session() as session:
        row = await session.get(CopySessionRow, poison_settings.followers[0].config_id)
        row.settings = {**row.settings, "multiplier": "1E+999999999"}
        account = await session.get(VenueAccountRow, poison_venue.followers[0].account.account_id)
        account.venue_id = "notanexchange"
    infinite = events.MasterFill(
        fill_id=f"{poison_fill.account.account_id}:P-1", master_account_id=poison_fill.account.account_id,
        master_id=poison_fill.user, venue=SPOT, venue_trade_id="P-1", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="Infinity", price="64000")
    infinite.execute_time.GetCurrentTime()

    started = time.monotonic()
    await fills.record_and_publish(db, components["outbox"], infinite)
    await submit(mesh, token_for, oversized, "T-1", quantity="1000000000000")
    for master in (poison_settings, poison_venue, bystander):
        await submit(mesh, token_for, master, "T-1")
    healthy = [bystander.followers[0], poison_settings.followers[1], poison_venue.followers[1]]
    await eventually(lambda: all(venue_orders(mesh.sim, f.user) for f in healthy), timeout=30,
                     message="the healthy followers' copies")
    took = time.monotonic() - started
    assert took < ON_TIME_S, f"healthy copies took {took:.1f}s beside the poison"

    poisoned = {"fill": poison_fill.followers[0], "settings": poison_settings.followers[0],
                "venue": poison_venue.followers[0], "risk": oversized.followers[0]}

    async def refusals():
        found = {}
        for name, follower in poisoned.items():
            orders = await orders_of(mesh, token_for, follower)
            if not orders or orders[0].status != events.FOLLOWER_ORDER_STATUS_REFUSED:
                return None
            found[name] = (orders[0].refusal.domain, orders[0].refusal.reason)
        return found
    reasons = await eventually(refusals, timeout=30, message="each poison copy refused")
    took = time.monotonic() - started
    here = "replication.copytrade"
    assert reasons == {"fill": (here, "INVALID_FILL"), "settings": (here, "INVALID_SETTINGS"),
                       "venue": (here, "UNSUPPORTED_VENUE"), "risk": ("risk.copytrade", "INVALID_ORDER")}
    assert took < ON_TIME_S, f"the poison copies were settled only after {took:.1f}s"
    for follower in poisoned.values():
        assert venue_orders(mesh.sim, follower.user) == []


# --- the rules themselves (pure) ----------------------------------------------------------------

@pytest.mark.parametrize("quantity", ["Infinity", "-Infinity", "NaN", "sNaN", "1e999999999", "1E+999999999", "0",
                                      "-1", "", "lots", "1" + "0" * 70])
def test_a_stored_fill_the_signal_api_would_refuse_is_poison(quantity):
    fill = events.MasterFill(fill_id="a:1", master_account_id="a", symbol="BTC/USDT", side=trading_pb2.SIDE_BUY,
                             quantity=quantity, price="64000")
    refusal = isolation.fill_problem(fill)
    assert refusal is not None and refusal.reason == "INVALID_FILL"
    fill.quantity = "0.01"
    assert isolation.fill_problem(fill) is None
    fill.position_before = "Infinity"  # derived from an earlier poison fill
    assert isolation.fill_problem(fill).reason == "INVALID_FILL"


@pytest.mark.parametrize("error, permanent", [
    (errors.invalid_argument("INVALID_SETTINGS", "bad"), True),
    (errors.unavailable("DOWN", "risk is away"), False),
    (InvalidOperation(), True),
    (KeyError(0), True),
    (ConnectionResetError(), False),
    (TimeoutError(), False),
])
def test_only_errors_no_retry_mends_end_a_copy_at_once(error, permanent):
    assert (isolation.non_transient(error) is not None) is permanent


def test_a_fill_is_copied_only_as_stored():
    fill = events.MasterFill(fill_id="a:1", master_account_id="a", quantity="0.01", price="1")
    subject = fills.fill_subject("a")
    assert isolation.unverified(subject, fill, fill.SerializeToString()) is None
    tampered = events.MasterFill()
    tampered.CopyFrom(fill)
    tampered.quantity = "5"
    assert isolation.unverified(subject, tampered, fill.SerializeToString()).reason == "FILL_PAYLOAD_MISMATCH"
    assert isolation.unverified(subject, fill, None).reason == "FILL_NOT_STORED"
    assert isolation.unverified(fills.fill_subject("b"), fill, fill.SerializeToString()).reason == \
        "FILL_SUBJECT_MISMATCH"
    assert isolation.unverified(subject, events.CopyRefused(), None).reason == "NOT_A_MASTER_FILL"
