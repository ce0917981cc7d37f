"""Reconciliation: does a follower hold, per instrument, what its copies of the master imply?

For one copy session and instrument:
- target: the sum of what each copy of a master fill was sized to, less what was decided against
  (the follower's own filters and risk refusals — a kill switch, a limit — imply nothing: the
  follower was right not to hold them, so they are no drift and a resync never trades them);
- position: the follower's trades at the venue since the session started, ours (matched by
  venue order id) and anyone else's (a manual trade on the follower account), read through the
  venue's whole history (paged); where that history does not reach back to the session's start
  (IB's reqExecutions shows today's executions, NinjaTrader's files this process's orders),
  the account's position as the venue's position endpoint reports it;
- the difference, explained by cause: manual trades, missed copies (failed, unknown, or held
  back while the session was frozen), partial fills; "in sync" means it is zero at the
  instrument's lot precision (less than one lot cannot be traded either way).

The follower's drift policy then decides: alert only, resync (trade the difference, never what
risk refused), or flatten (close the session's position and freeze the session until a resync).
Corrections are follower orders of their own (master_fill_id "reconcile:<result id>"), placed
through risk like any copy, so later checks count them."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import select

from copytrade.replication.v1 import error_recovery_service_pb2 as pb
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.domain import copy_settings, sizing
from services.kit.bus import Bus
from services.kit.db import Database, aware
from services.replication import sessions
from services.replication.client_order_id import client_order_id
from services.replication.store import CopySessionRow, FollowerOrderRow, ReconciliationResultRow, VenueAccountRow
from services.replication.venues.base import Fill, VenueError

log = logging.getLogger("copytrade.replication.reconcile")
S = events
ZERO = Decimal(0)
CORRECTION_PREFIX = "reconcile:"
MISSED = {S.FOLLOWER_ORDER_STATUS_FAILED, S.FOLLOWER_ORDER_STATUS_UNKNOWN, S.FOLLOWER_ORDER_STATUS_PENDING}
CAUSE_NAMES = {pb.DISCREPANCY_CAUSE_MANUAL_TRADE: "MANUAL_TRADE", pb.DISCREPANCY_CAUSE_MISSED_COPY: "MISSED_COPY",
               pb.DISCREPANCY_CAUSE_PARTIAL_FILL: "PARTIAL_FILL",
               pb.DISCREPANCY_CAUSE_REFUSED_BY_RISK: "REFUSED_BY_RISK", pb.DISCREPANCY_CAUSE_UNKNOWN: "UNKNOWN"}


def _signed(side: int | str, quantity: Decimal) -> Decimal:
    return quantity if side in (trading_pb2.SIDE_BUY, "buy") else -quantity


@dataclass
class Drift:
    """One instrument's books, in follower units, signed."""

    symbol: str
    target: Decimal = ZERO  # what the copies imply (decided-against copies imply nothing)
    position: Decimal = ZERO  # what the venue's trades since the session started add up to
    causes: dict[int, Decimal] = field(default_factory=dict)  # cause → its share of the difference
    lot_size: Decimal = ZERO  # the instrument's: a difference under one lot is none

    @property
    def actionable(self) -> Decimal:
        """What a resync trades: the difference, in whole lots."""
        difference = self.target - self.position
        if self.lot_size <= 0:
            return difference
        return (difference / self.lot_size).to_integral_value(rounding=ROUND_DOWN) * self.lot_size


def measure(symbol: str, orders: list[FollowerOrderRow], trades: list[Fill], our_venue_ids: set[str],
            position: Decimal | None = None) -> Drift:
    """Pure: the drift of one instrument from the session's follower orders and the account's
    venue trades since the session started. position: the account's position from the venue's
    position endpoint, when its trade history does not reach back to the session's start (the
    trades then are the part it does show)."""
    drift = Drift(symbol)
    add = (lambda cause, amount: drift.causes.__setitem__(cause, drift.causes.get(cause, ZERO) + amount)
           if amount else None)
    for order in orders:
        if order.master_fill_id.startswith(CORRECTION_PREFIX):
            continue  # a correction is not implied by the master; its trades count in the position
        refusal = order.refusal or {}
        if order.status == S.FOLLOWER_ORDER_STATUS_REFUSED:
            if refusal.get("reason") == "SESSION_FROZEN":  # held back until a resync
                drift.target += _signed(order.side, order.quantity)
                add(pb.DISCREPANCY_CAUSE_MISSED_COPY, -_signed(order.side, order.quantity))
            continue  # risk or the follower's own filters decided against it: nothing implied
        drift.target += _signed(order.side, order.quantity)
        unfilled = _signed(order.side, order.quantity - order.filled_quantity)
        add(pb.DISCREPANCY_CAUSE_MISSED_COPY if order.status in MISSED else pb.DISCREPANCY_CAUSE_PARTIAL_FILL,
            -unfilled)
    session_ids = {o.venue_order_id for o in orders if o.venue_order_id}
    corrections = {o.venue_order_id for o in orders if o.venue_order_id and o.master_fill_id.startswith(
        CORRECTION_PREFIX)}
    corrected = ZERO
    for trade in trades:
        amount = _signed(trade.side, trade.quantity)
        if trade.venue_order_id in session_ids:
            drift.position += amount
            if trade.venue_order_id in corrections:
                corrected += amount
        elif trade.venue_order_id not in our_venue_ids:  # not any session's copy: a person traded
            drift.position += amount
            add(pb.DISCREPANCY_CAUSE_MANUAL_TRADE, amount)
    if position is not None:
        drift.position = position
    explained = sum(drift.causes.values(), ZERO) + corrected
    # What the parts leave unexplained (a fill our books missed, trades before the session).
    add(pb.DISCREPANCY_CAUSE_UNKNOWN, drift.position - drift.target - explained)
    return drift


def result_to_proto(row: ReconciliationResultRow) -> pb.ReconciliationResult:
    result = pb.ReconciliationResult(result_id=row.result_id, config_id=row.config_id, in_sync=row.in_sync,
                                     resolution=row.resolution)
    result.run_time.FromDatetime(aware(row.run_time))
    for item in row.discrepancies:
        result.discrepancies.append(pb.Discrepancy(
            symbol=item["symbol"], follower_position=item["follower_position"],
            target_position=item["target_position"], difference=item["difference"],
            cause=pb.DiscrepancyCause.Value(f"DISCREPANCY_CAUSE_{item['cause']}")))
    return result


class Reconciler:
    def __init__(self, db: Database, bus: Bus, pool, copier) -> None:
        self.db, self.bus, self.pool, self.copier = db, bus, pool, copier

    async def reconcile(self, session: CopySessionRow, *, symbol: str = "", force_resync: bool = False,
                        flatten: bool = False, dry_run: bool = False) -> ReconciliationResultRow:
        """Measure the session's drift and apply its policy (or resync or flatten, when told)."""
        run_time = datetime.now(UTC)
        result_id = f"rec-{int(time.time() * 1000):013d}-{secrets.token_hex(4)}"
        async with self.db.session() as db_session:
            account = await db_session.get(VenueAccountRow, session.follower_account_id)
            orders = (await db_session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.config_id == session.config_id))).scalars().all()
            our_ids = set((await db_session.execute(select(FollowerOrderRow.venue_order_id).where(
                FollowerOrderRow.follower_account_id == session.follower_account_id))).scalars().all())
        symbols = sorted({symbol} if symbol else {o.symbol for o in orders if o.quantity > 0})
        venue = await self.pool.get(account)
        started = aware(session.create_time)
        shown_from = venue.history_start()
        held = None
        if shown_from is not None and shown_from > started:  # the history does not go back that far
            held = {p.symbol: p.quantity for p in await venue.positions()}
            started = shown_from
        drifts = []
        for name in symbols:
            trades = await venue.trades(name, started)
            drift = measure(name, [o for o in orders if o.symbol == name], trades, our_ids,
                            position=held.get(name, ZERO) if held is not None else None)
            drift.lot_size = await self._lot_size(venue, name)
            drifts.append(drift)
        policy = copy_settings.from_json(session.settings).drift_policy
        if force_resync or flatten:
            policy = rep.DRIFT_POLICY_RESYNC if force_resync else rep.DRIFT_POLICY_FLATTEN
        out_of_sync = [d for d in drifts if d.actionable != 0 or (flatten and d.position != 0)]
        resolution = "none"
        if dry_run:
            policy = None  # look, do not touch
        if out_of_sync and policy == rep.DRIFT_POLICY_RESYNC:
            resolution = await self._trade(session, account, venue, result_id,
                                           {d.symbol: d.actionable for d in out_of_sync}, "resynced")
        elif out_of_sync and policy == rep.DRIFT_POLICY_FLATTEN:
            resolution = await self._trade(session, account, venue, result_id,
                                           {d.symbol: -d.position for d in drifts if d.position}, "flattened")
            await sessions.set_state(self.db, self.bus, session.config_id, rep.SESSION_STATE_FROZEN,
                                     "flattened by reconciliation: resync to copy again",
                                     only_from=(rep.SESSION_STATE_ACTIVE,))
        elif out_of_sync and policy is not None:
            resolution = "alerted"
        if force_resync and resolution in ("none", "resynced"):  # in line again: copying goes on
            await sessions.set_state(self.db, self.bus, session.config_id, rep.SESSION_STATE_ACTIVE, "",
                                     only_from=(rep.SESSION_STATE_FROZEN,))
        row = ReconciliationResultRow(
            result_id=result_id, config_id=session.config_id, run_time=run_time, in_sync=not out_of_sync,
            resolution=resolution, discrepancies=[
                {"symbol": d.symbol, "follower_position": str(d.position), "target_position": str(d.target),
                 "difference": str(amount), "cause": CAUSE_NAMES[cause]}
                for d in drifts for cause, amount in sorted(d.causes.items())
                if amount and d.actionable != 0])  # in sync, earlier causes are settled (corrected)
        if dry_run:
            return row
        async with self.db.session() as db_session:
            db_session.add(row)
        if out_of_sync:
            log.warning("session %s drifted (%s): %s", session.config_id, resolution,
                        ", ".join(f"{d.symbol} {d.position} vs {d.target}" for d in out_of_sync))
        return row

    @staticmethod
    async def _lot_size(venue, symbol: str) -> Decimal:
        try:
            return (await venue.instrument(symbol)).lot_size
        except (VenueError, KeyError):
            return ZERO  # unknown: exact comparison

    async def _trade(self, session: CopySessionRow, account: VenueAccountRow, venue, result_id: str,
                     deltas: dict[str, Decimal], done: str) -> str:
        """Correction orders, one per instrument, through risk like any copy."""
        outcomes = []
        for symbol, delta in deltas.items():
            instrument = await venue.instrument(symbol)
            quantity = (abs(delta) / instrument.lot_size).to_integral_value() * instrument.lot_size
            try:
                price = await venue.price(symbol)
            except VenueError:
                price = ZERO
            if quantity <= 0 or instrument.fit_quantity(quantity, price or None).below_min_notional:
                continue  # dust the venue would not trade: nothing to correct
            side = "buy" if delta > 0 else "sell"
            if side == "sell" and account.market_type == trading_pb2.MARKET_TYPE_SPOT:
                holding = (await venue.account()).balances.get(instrument.base)
                capped = sizing.within_holdings(sizing.Sized(symbol=symbol, side=side, quantity=quantity),
                                                holding.free if holding else ZERO, instrument.lot_size)
                if capped.refused:
                    outcomes.append("failed")
                    continue
                quantity = capped.quantity
            now = datetime.now(UTC)
            row = FollowerOrderRow(
                order_id=client_order_id(f"{CORRECTION_PREFIX}{result_id}:{symbol}", session.follower_account_id),
                config_id=session.config_id, follower_id=session.follower_id,
                follower_account_id=session.follower_account_id,
                master_fill_id=f"{CORRECTION_PREFIX}{result_id}", symbol=symbol,
                side=trading_pb2.SIDE_BUY if side == "buy" else trading_pb2.SIDE_SELL, quantity=quantity,
                filled_quantity=ZERO, average_fill_price=None, status=S.FOLLOWER_ORDER_STATUS_PENDING,
                venue_order_id="", refusal=None, error_kind="", error_message="", master_fill_time=now,
                receive_time=now, worker="reconciler")
            attempt = await self.copier.send(row, session, venue, instrument, reservation_id=row.order_id,
                                             expected_price=price, reference_price=price, equity=ZERO,
                                             master_fill_time=None, reduce_only=False)
            outcomes.append(attempt.outcome)
        if not outcomes:
            return "none"  # nothing the venue would trade
        return done if all(o == "placed" for o in outcomes) else f"{done} in part" if "placed" in outcomes \
            else "failed"

    async def flatten(self, session: CopySessionRow, reason: str) -> str:
        """Close what the session's copies (and any manual trades) hold, and freeze it."""
        result = await self.reconcile(session, flatten=True)
        await sessions.set_state(self.db, self.bus, session.config_id, rep.SESSION_STATE_FROZEN, reason,
                                 only_from=(rep.SESSION_STATE_ACTIVE,))
        return result.resolution

    async def run_all(self, owns: Callable[[str], bool] | None = None) -> int:
        """Reconcile every active session that has copies, by its own policy; returns how many.
        owns(master account id): only the sessions of masters this replica owns (one replica
        reconciles each session)."""
        async with self.db.session() as db_session:
            sessions = (await db_session.execute(select(CopySessionRow).where(
                CopySessionRow.state == rep.SESSION_STATE_ACTIVE))).scalars().all()
            active = set((await db_session.execute(select(FollowerOrderRow.config_id).distinct())).scalars().all())
        done = 0
        for session in sessions:
            if session.config_id not in active or (owns is not None and not owns(session.master_account_id)):
                continue
            try:
                await self.reconcile(session)
                done += 1
            except Exception:  # noqa: BLE001 - one session's venue being away must not stop the others
                log.exception("reconciling session %s failed", session.config_id)
        return done
