"""create_server(settings) for the replication service."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from pathlib import Path

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import (error_recovery_service_pb2, error_recovery_service_pb2_grpc,
                                      replication_service_pb2, replication_service_pb2_grpc)
from copytrade.risk.v1.risk_internal_service_pb2_grpc import RiskInternalServiceStub
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.bus import Bus
from services.kit.clients import channel
from services.kit.config import Settings
from services.kit import auth, fillsign, metrics, revocations
from services.kit.db import Database
from services.kit.leases import Leases
from services.kit.periodic import Periodic
from services.kit.server import Registration, RunningService, start_grpc_server
from services.replication import sessions
from services.replication.copier import Copier
from services.replication.error_book import ErrorBook
from services.replication.fanout import EffectsSweeper
from services.replication.fills import FillOutbox, MasterWatchers, StoredFills
from services.replication.join import Joiner
from services.replication.outage import FeedOutages
from services.replication.ownership import BUCKET, Ownership
from services.replication.reconcile import Reconciler
from services.replication.resting import RestingCopies
from services.replication.recovery import Schedules
from services.replication.recovery_service import ErrorRecoveryServicer
from services.replication.retries import RetryProcessor
from services.replication.service import ReplicationServicer
from services.replication.snapshots import EquitySnapshots
from services.replication.catalog import live_follower_accounts
from services.replication.venue_pool import VenuePool

WORKERS_DURABLE = "replication"  # every replica binds it, so each fill is copied by one of them
ORDERS_DURABLE = "replication-orders"  # master resting orders, mirrored by one replica each
HALTS_DURABLE = "replication-halts"  # trading halted: resting copies are canceled
ERASURE_DURABLE = "replication-erasure"  # a user erased: their sessions stop, their accounts go
STOPS_DURABLE = "replication-stops"  # a session stopped: its resting copies are canceled
STARTUP_RECONCILE_TIMEOUT_S = 30.0
FILLS_PER_PASS = 16  # a master's fills waiting in its lane, copied in one pass at the most
MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("copytrade.replication")


async def create_server(settings: Settings) -> RunningService:
    db = Database(settings, MIGRATIONS)
    await db.migrate()
    bus = await Bus.for_service(settings)
    risk_channel, compliance_channel = channel(settings, "risk"), channel(settings, "compliance")
    compliance_internal = ComplianceInternalServiceStub(compliance_channel)
    # One owner per background job (watchers, outage policies, reconciliation, snapshots): shards
    # of accounts leased across replicas; a replica slot keeps IB client ids apart.
    holder = f"replication:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    owner = await Ownership(await Leases(bus, BUCKET, holder, settings.lease_ttl_s).open()).start()
    pool = VenuePool(settings, compliance_internal)
    pool.replica_slot = owner.slot
    book = ErrorBook(db, bus, Schedules.parse(settings.retry_schedules))
    stored_fills = StoredFills()  # what this process stores, the copier verifies without a read
    copier = Copier(db, bus, pool, RiskServiceStub(risk_channel), book, RiskInternalServiceStub(risk_channel),
                    stored_fills)
    # Every replica keeps the sessions in memory: a change anywhere drops its master's entry here.
    await bus.subscribe("copies.session.changed.*", copier.catalog.on_session_changed)
    sweeper = EffectsSweeper(db, copier.redo_effects).start()
    reconciler = Reconciler(db, bus, pool, copier)
    joiner = Joiner(db, copier)
    # Before new copies go out, followers are brought in line with what their copies imply.
    try:
        await asyncio.wait_for(reconciler.run_all(owner.owns), STARTUP_RECONCILE_TIMEOUT_S)
    except TimeoutError:
        log.warning("start-up reconciliation did not finish in %.0fs; copying anyway", STARTUP_RECONCILE_TIMEOUT_S)
    # Masters concurrently, each master's fills in order: one held never delays another's. A
    # master's backlog (a burst) is copied in passes of up to FILLS_PER_PASS fills (Copier.handle_run).
    await bus.consume("FILLS", WORKERS_DURABLE, "fills.master.filled.>", copier.handle_run, batch=FILLS_PER_PASS,
                      ack_wait=settings.fill_ack_wait_s, key=Copier.lane, lanes=settings.copy_lanes,
                      runs_of=FILLS_PER_PASS)
    resting = RestingCopies(copier)
    await bus.consume("FILLS", ORDERS_DURABLE, "fills.master.order.>", resting.on_master_order, batch=16,
                      ack_wait=settings.fill_ack_wait_s)
    await bus.consume("RISK", HALTS_DURABLE, "risk.state.changed.>", resting.on_trading_state)
    await bus.consume("COPIES", STOPS_DURABLE, "copies.session.changed.>", resting.on_session_changed)
    resting.start()

    async def forget_account(subject: str, event) -> None:  # every replica, so a core subscription
        await pool.evict(event.account_id)
        copier.catalog.forget_account(event.account_id)
    await bus.subscribe("copies.account.deleted.*", forget_account)

    async def on_revoked(delivery) -> None:  # compliance erased a user: they stop trading here too
        if delivery.event.deleted:
            await sessions.erase_user(db, bus, delivery.event.user_id)
    await revocations.ensure_stream(bus)
    await bus.consume(revocations.STREAM, ERASURE_DURABLE, f"{auth.REVOCATION_SUBJECT}.>", on_revoked)
    processor = RetryProcessor(book, copier, settings.retry_poll_s)
    processor.start()
    periodic = Periodic("reconciliation", settings.reconcile_interval_s, lambda: reconciler.run_all(owner.owns),
                        first_delay_s=settings.reconcile_interval_s).start()
    lag = Periodic("consumer-lag", 5.0, lambda: _record_consumer_lag(bus)).start()
    outages = FeedOutages(db, bus, reconciler, grace_s=settings.feed_outage_grace_s,
                          settle_s=min(2.0, settings.feed_outage_grace_s), owns=owner.owns)
    outbox = FillOutbox(db, bus, fillsign.Signer.for_settings(settings), stored=stored_fills).start()  # also publishes what a previous run stored and did not
    watchers = MasterWatchers(db, outbox, pool, on_stream=outages.listener, owns=owner.owns,
                              on_stop=outages.forget)
    owner.on_change(watchers.wake)
    snapshots = EquitySnapshots(db, pool, RiskServiceStub(risk_channel), settings.snapshot_interval_s,
                                owns=owner.owns, on_equity=copier.catalog.note_equity)
    snapshots.start()
    watchers.start()
    warming = asyncio.create_task(_warm(db, pool), name="venue-warm-up")  # beside the copying, which may start

    async def stop_warming() -> None:
        warming.cancel()
        await asyncio.gather(warming, return_exceptions=True)

    async def stop_periodic() -> None:
        await periodic.stop()
        await lag.stop()

    async def stop_owned_jobs() -> None:  # (cleanups run last first: this before bus.close)
        await watchers.stop()
        await owner.stop()  # the shards are released: another replica takes them at once

    registrations = [
        Registration(replication_service_pb2.DESCRIPTOR.services_by_name["ReplicationService"].full_name,
                     replication_service_pb2_grpc.add_ReplicationServiceServicer_to_server,
                     ReplicationServicer(db, bus, outbox, ComplianceServiceStub(compliance_channel), compliance_internal,
                                         pool=pool, reconciler=reconciler, joiner=joiner)),
        Registration(error_recovery_service_pb2.DESCRIPTOR.services_by_name["ErrorRecoveryService"].full_name,
                     error_recovery_service_pb2_grpc.add_ErrorRecoveryServiceServicer_to_server,
                     ErrorRecoveryServicer(db, book, processor, reconciler, compliance_internal)),
    ]
    running = await start_grpc_server(settings, registrations, cleanups=[
        stop_warming, outbox.stop, sweeper.stop, resting.stop, snapshots.stop, outages.stop, processor.stop, stop_periodic,
        bus.close, stop_owned_jobs, pool.close, risk_channel.close, compliance_channel.close, db.close,
        bus.stop_consuming],  # first: fills held go back to JetStream before anything they need closes
        probes=[db.ready, bus.ready])
    running.components = {"retries": processor, "errors": book, "reconciler": reconciler,  # for tests
                          "snapshots": snapshots, "resting": resting, "pool": pool, "outbox": outbox,
                          "copier": copier, "joiner": joiner, "sweeper": sweeper, "watchers": watchers,
                          "ownership": owner, "outages": outages}
    return running


async def _warm(db, pool: VenuePool) -> None:
    """Open the venues of every live session's follower at start-up (see VenuePool.warm)."""
    try:
        await pool.warm(await live_follower_accounts(db))
    except Exception as exc:  # noqa: BLE001 - only a head start: each copy opens its own venue anyway
        log.warning("venue warm-up stopped: %s", exc)


async def _record_consumer_lag(bus) -> None:
    """The copy backlog: fills JetStream holds that no worker has taken yet."""
    info = await bus.js.consumer_info("FILLS", WORKERS_DURABLE)
    metrics.CONSUMER_PENDING.labels("FILLS", WORKERS_DURABLE).set(info.num_pending + info.num_ack_pending)
