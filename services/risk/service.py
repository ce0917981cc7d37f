"""RiskService over gRPC: thin; the rules live in limits.py."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import uuid
from datetime import UTC, datetime

from decimal import Decimal

from sqlalchemy import select

from copytrade.risk.v1 import risk_events_pb2 as risk_events
from copytrade.risk.v1 import risk_internal_service_pb2 as risk_internal
from copytrade.risk.v1 import risk_internal_service_pb2_grpc as risk_internal_grpc
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1 import risk_service_pb2_grpc as pb_grpc
from copytrade.type.v1 import trading_pb2
from services.kit import auth, errors, validation
from services.kit.bus import Bus
from services.kit.db import Database
from services.domain.risk import checks
from services.domain.risk import limits as risk_limits
from services.risk.monitor import BreakerMonitor, StateKeeper
from services.risk.reservations import Ask, Fill, ReservationBook, Settled, scope_key
from services.risk.store import ReservationRow, RiskLimitsRow, TradingStateRow

LIMITS_TTL_S = 5.0
RESERVER = "replication"
MAX_RESERVATION_ID = 80
MAX_BATCH = 5000
DECISIONS = {"APPROVED": pb.DECISION_APPROVED, "REDUCED": pb.DECISION_REDUCED, "DENIED": pb.DECISION_DENIED}
STATES = {checks.ACTIVE: trading_pb2.TRADING_STATE_ACTIVE, checks.REDUCING: trading_pb2.TRADING_STATE_REDUCING,
          checks.HALTED: trading_pb2.TRADING_STATE_HALTED}
STATE_NAMES = {v: k for k, v in STATES.items()}


@functools.lru_cache(maxsize=8192)  # pure: a fill's copies share their prices, lot and contract size
def _decimal(name: str, raw: str, bound: validation.Bound, *, required: bool = True,
             reason: str = "INVALID_ORDER") -> Decimal:
    return validation.parse_decimal(raw, name, bound, reason=reason, domain=risk_limits.DOMAIN,
                                    default=None if required else Decimal(0))


def _state_info(scope: pb.TradingScope, row: TradingStateRow | None) -> pb.TradingStateInfo:
    info = pb.TradingStateInfo(scope=scope, state=STATES[row.state if row else checks.ACTIVE])
    if row is not None:
        info.reason, info.changed_by, info.kill_switch_active = row.reason, row.changed_by, row.kill_switch
        info.change_time.FromDatetime(row.change_time)
    return info


def reserving_service() -> str:
    """The calling service's name, if it may reserve: only replication places copies, so only
    it reserves, commits and releases (a user, even the follower, gets PERMISSION_DENIED)."""
    return auth.require_service(RESERVER).subject.removeprefix("service:")


def _fill(user_id: str, request: pb.CommitReservationRequest) -> Fill:
    return Fill(request.reservation_id, user_id, _decimal("filled_quantity", request.filled_quantity, validation.LOT),
                _decimal("fill_price", request.fill_price, validation.PRICE))


def _found(row: Settled | None, fill: Fill) -> None:
    if row is None:
        raise errors.not_found("RESERVATION_NOT_FOUND", "no such reservation", domain=risk_limits.DOMAIN,
                               reservation_id=fill.client_id)


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, db: Database, defaults: risk_limits.RiskLimits, bus: Bus) -> None:
        self.db = db
        self.defaults = defaults
        self.bus = bus
        self.book = ReservationBook(db)
        self.states = StateKeeper(self.book, bus)
        self._limits_cache: dict[str, tuple[risk_limits.RiskLimits, RiskLimitsRow | None, float]] = {}
        self.monitor = BreakerMonitor(db, bus, self.states, self._limits_only_of)

    async def _limits_only_of(self, user_ids: set[str]) -> dict[str, risk_limits.RiskLimits]:
        return {user_id: limits for user_id, (limits, _) in (await self._limits_of(user_ids)).items()}

    def _authorise_scope(self, scope: pb.TradingScope) -> auth.Caller:
        if not scope.user_id:  # the whole platform
            return auth.require_role(auth.ROLE_OPERATOR)
        return auth.require_user(scope.user_id)

    @staticmethod
    def _parse(intent: pb.OrderIntent) -> tuple[checks.Order, Decimal]:
        """The order an intent asks for, and the follower's equity; INVALID_ARGUMENT if malformed."""
        if not intent.follower_id or not intent.instrument.symbol:
            raise errors.invalid_argument("INVALID_ORDER", "follower_id and instrument.symbol are required",
                                          domain=risk_limits.DOMAIN, field="intent")
        if intent.side not in (trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL):
            raise errors.invalid_argument("INVALID_ORDER", "side must be SIDE_BUY or SIDE_SELL",
                                          domain=risk_limits.DOMAIN, field="intent.side")
        quantity = _decimal("intent.quantity", intent.quantity, validation.QUANTITY)
        price = _decimal("intent.expected_price", intent.expected_price, validation.PRICE)
        reference = _decimal("intent.reference_price", intent.reference_price, validation.LOT, required=False)
        lot = _decimal("intent.instrument.lot_size", intent.instrument.lot_size, validation.LOT, required=False)
        equity = _decimal("intent.equity", intent.equity, validation.MONEY, required=False)
        # Limits are in money: a futures contract (ES: 50 × the index) is worth its size × the price.
        contract = (_decimal("intent.instrument.contract_size", intent.instrument.contract_size, validation.RATIO)
                    if intent.instrument.contract_size else Decimal(1))
        order = checks.Order(intent.instrument.symbol, quantity if intent.side == trading_pb2.SIDE_BUY else -quantity,
                             price * contract, reference * contract, lot, contract_size=contract)
        return order, equity

    def _ask(self, request: pb.ReserveOrderRequest) -> Ask:
        """A reservation request, parsed (its limits are filled in by reserve_all)."""
        if not request.reservation_id:
            raise errors.invalid_argument("INVALID_ORDER", "reservation_id is required", domain=risk_limits.DOMAIN,
                                          field="reservation_id")
        if len(request.reservation_id) > MAX_RESERVATION_ID:
            raise errors.invalid_argument("INVALID_ORDER", f"reservation_id is longer than {MAX_RESERVATION_ID}",
                                          domain=risk_limits.DOMAIN, field="reservation_id")
        order, equity = self._parse(request.intent)
        # What is stored must fit its columns: checked here, as the batch's rows bypass the ORM's
        # check (in full only for what could fail it: every width here is at least 64).
        texts = (request.reservation_id, request.intent.follower_id, order.symbol)
        if max(map(len, texts)) > 64 or any("\x00" in t for t in texts):
            validation.check_row(ReservationRow.__table__, dict(zip(("client_id", "user_id", "symbol"), texts)))
        return Ask(request.reservation_id, request.intent.follower_id, request.intent.master_id, order, equity,
                   self.defaults, self._returns(request.intent))

    async def reserve_all(self, caller: str, requests, *, isolate: bool) -> list[pb.ReserveOrderResponse]:
        """Decide every request in one transaction. With `isolate` a malformed request is refused
        in its own answer (DENIED, refusal.metadata code=INVALID_ARGUMENT); without, it fails the call."""
        parsed: list[Ask | errors.DomainError] = []
        for request in requests:
            try:
                parsed.append(self._ask(request))
            except errors.DomainError as exc:
                if not isolate:
                    raise
                parsed.append(exc)
        asks = [a for a in parsed if isinstance(a, Ask)]
        limits = await self._limits_of({a.user_id for a in asks})
        equity = await self._equity_of(asks)
        asks = [dataclasses.replace(a, limits=limits[a.user_id][0], equity=equity.get(a.user_id, a.equity)
                                    if a.equity <= 0 else a.equity) for a in asks]
        decided = iter(await self.book.reserve(caller, asks) if asks else ())
        responses = []
        for request, item in zip(requests, parsed):
            if isinstance(item, errors.DomainError):
                responses.append(pb.ReserveOrderResponse(
                    decision=pb.DECISION_DENIED, approved_quantity="0", reservation_id=request.reservation_id,
                    refusal=trading_pb2.Refusal(reason=item.reason, domain=item.domain, message=item.message,
                                                metadata={**item.metadata, "code": "INVALID_ARGUMENT"})))
                continue
            decision, expires = next(decided)
            response = pb.ReserveOrderResponse(
                decision=DECISIONS[decision.outcome], approved_quantity=str(abs(decision.quantity)),
                refusal=self._refusal(decision), reservation_id=request.reservation_id, metadata=decision.metadata)
            response.expire_time.FromDatetime(expires)
            responses.append(response)
        return responses

    async def _equity_of(self, asks) -> dict[str, Decimal]:
        """For orders that bring no equity (the sizing modes that need none), the followers' from
        their latest account snapshots: the leverage limit holds in every mode."""
        needing = {a.user_id for a in asks if a.equity <= 0}
        return await self.monitor.equity_of(needing, datetime.now(UTC)) if needing else {}

    @staticmethod
    def _returns(intent: pb.OrderIntent) -> dict[str, tuple[tuple[float, ...], float]]:
        series = {}
        for item in intent.returns:
            if item.periods_per_year <= 0 or not all(math.isfinite(r) for r in item.returns):
                raise errors.invalid_argument("INVALID_ORDER", "returns need finite values and periods_per_year > 0",
                                              domain=risk_limits.DOMAIN, field="intent.returns")
            series[item.symbol] = (tuple(item.returns), item.periods_per_year)  # hashable: computed once
        return series

    async def CheckOrder(self, request: pb.CheckOrderRequest, context) -> pb.CheckOrderResponse:
        auth.require_user(request.intent.follower_id)
        order, equity = self._parse(request.intent)
        limits, _ = await self._limits(request.intent.follower_id)
        if equity <= 0:
            equity = (await self.monitor.equity_of({request.intent.follower_id}, datetime.now(UTC))).get(
                request.intent.follower_id, equity)
        async with self.db.session() as session:
            book = await self.book.book(session, request.intent.follower_id, equity, datetime.now(UTC),
                                         self._returns(request.intent))
            state = await self.book.effective_state(session, request.intent.follower_id, request.intent.master_id)
        decision = checks.decide(limits, state, book, order)
        return pb.CheckOrderResponse(decision=DECISIONS[decision.outcome], approved_quantity=str(abs(decision.quantity)),
                                     refusal=self._refusal(decision), metadata=decision.metadata)

    async def ReserveOrder(self, request: pb.ReserveOrderRequest, context) -> pb.ReserveOrderResponse:
        return (await self.reserve_all(reserving_service(), [request], isolate=False))[0]

    @staticmethod
    def _refusal(decision: checks.Decision) -> trading_pb2.Refusal | None:
        if not decision.reason:
            return None
        return trading_pb2.Refusal(reason=decision.reason, domain=risk_limits.DOMAIN, message=decision.message,
                                   metadata=decision.metadata)

    async def CommitReservation(self, request: pb.CommitReservationRequest, context) -> pb.CommitReservationResponse:
        caller = reserving_service()
        fill = _fill("", request)
        await self.book.settle(caller, [fill], commit=True, check=_found)
        return pb.CommitReservationResponse(reservation_id=request.reservation_id)

    async def ReleaseReservation(self, request: pb.ReleaseReservationRequest, context) -> pb.ReleaseReservationResponse:
        await self.book.settle(reserving_service(), [Fill(request.reservation_id, "")], commit=False, check=_found)
        return pb.ReleaseReservationResponse(reservation_id=request.reservation_id)

    async def GetTradingState(self, request: pb.GetTradingStateRequest, context) -> pb.GetTradingStateResponse:
        self._authorise_scope(request.scope) if request.scope.user_id else auth.require_caller()
        key = scope_key(request.scope.user_id, request.scope.master_id)
        async with self.db.session() as session:  # one read: the state and what it makes effective agree
            effective = await self.book.effective_state(session, request.scope.user_id, request.scope.master_id)
            row = await session.get(TradingStateRow, key)
        return pb.GetTradingStateResponse(state=_state_info(request.scope, row), effective_state=STATES[effective])

    async def SetTradingState(self, request: pb.SetTradingStateRequest, context) -> pb.SetTradingStateResponse:
        caller = self._authorise_scope(request.scope)
        if request.state not in STATE_NAMES:
            raise errors.invalid_argument("INVALID_STATE", "state must be ACTIVE, REDUCING or HALTED",
                                          domain=risk_limits.DOMAIN, field="state")
        key = scope_key(request.scope.user_id, request.scope.master_id)
        current = await self.book.get_state(key)
        if current is not None and current.kill_switch and request.state != trading_pb2.TRADING_STATE_HALTED:
            raise errors.failed_precondition("KILL_SWITCH_ACTIVE", "the kill switch is on: reset it first",
                                             domain=risk_limits.DOMAIN)
        row = await self.states.set(key, STATE_NAMES[request.state], request.reason, caller.subject)
        return pb.SetTradingStateResponse(state=_state_info(request.scope, row))

    async def ActivateKillSwitch(self, request: pb.ActivateKillSwitchRequest, context) -> pb.ActivateKillSwitchResponse:
        caller = self._authorise_scope(request.scope)
        row = await self.states.set(scope_key(request.scope.user_id, request.scope.master_id), checks.HALTED,
                                    request.reason or "kill switch", caller.subject, kill_switch=True)
        return pb.ActivateKillSwitchResponse(state=_state_info(request.scope, row))

    async def ResetTradingState(self, request: pb.ResetTradingStateRequest, context) -> pb.ResetTradingStateResponse:
        caller = self._authorise_scope(request.scope)
        if request.scope.user_id and not request.scope.master_id:
            await self.monitor.reset(request.scope.user_id)  # tripped breakers go with the state they set
        row = await self.states.set(scope_key(request.scope.user_id, request.scope.master_id), checks.ACTIVE,
                                    request.comment or "reset", caller.subject, kill_switch=False)
        return pb.ResetTradingStateResponse(state=_state_info(request.scope, row))

    async def RecordAccountSnapshot(self, request: pb.RecordAccountSnapshotRequest, context):
        auth.require_user(request.user_id)
        equity = _decimal("equity", request.equity, validation.MONEY, reason="INVALID_SNAPSHOT")
        for name in ("realized_pnl", "unrealized_pnl"):  # signed; carried in equity, checked for form
            _decimal(name, getattr(request, name), validation.SIGNED_MONEY, required=False, reason="INVALID_SNAPSHOT")
        at = request.snapshot_time.ToDatetime(tzinfo=UTC) if request.HasField("snapshot_time") else datetime.now(UTC)
        state = await self.monitor.record_snapshot(request.user_id, equity, at)
        return pb.RecordAccountSnapshotResponse(state=STATES[state])

    async def ListCircuitBreakers(self, request: pb.ListCircuitBreakersRequest, context):
        auth.require_user(request.user_id)
        return pb.ListCircuitBreakersResponse(breakers=await self.monitor.list(request.user_id))

    async def _limits(self, user_id: str) -> tuple[risk_limits.RiskLimits, RiskLimitsRow | None]:
        return (await self._limits_of({user_id}))[user_id]

    async def _limits_of(self, user_ids: set[str]) -> dict[str, tuple[risk_limits.RiskLimits, RiskLimitsRow | None]]:
        """Followers' limits, the missing ones in one read. Kept in memory on the copy path: a
        change made here evicts them at once, one made at another replica within milliseconds
        (its event), and LIMITS_TTL_S bounds the age of any reading should an event be lost."""
        now = time.monotonic()
        found, missing = {}, set()
        for user_id in user_ids:
            cached = self._limits_cache.get(user_id)
            if cached is not None and now - cached[2] < LIMITS_TTL_S:
                found[user_id] = cached[0], cached[1]
            else:
                missing.add(user_id)
        if missing:
            async with self.db.session() as session:
                rows = {row.user_id: row for row in (await session.execute(
                    select(RiskLimitsRow).where(self.db.member(RiskLimitsRow.user_id, missing)))).scalars()}
            if len(self._limits_cache) + len(missing) > 100_000:
                self._limits_cache.clear()
            for user_id in missing:
                row = rows.get(user_id)
                limits = self.defaults if row is None else risk_limits.stored(self.defaults, row.limits)
                self._limits_cache[user_id] = (limits, row, now)
                found[user_id] = limits, row
        return found

    async def on_limits_changed(self, subject: str, event) -> None:
        self._limits_cache.pop(event.user_id, None)

    async def GetRiskLimits(self, request: pb.GetRiskLimitsRequest, context) -> pb.GetRiskLimitsResponse:
        auth.require_user(request.user_id)
        limits, row = await self._limits(request.user_id)
        response = pb.GetRiskLimitsResponse(limits=risk_limits.to_proto(limits), is_default=row is None)
        if row is not None:
            response.update_time.FromDatetime(row.update_time)
        return response

    async def UpdateRiskLimits(self, request: pb.UpdateRiskLimitsRequest, context) -> pb.UpdateRiskLimitsResponse:
        caller = auth.require_user(request.user_id)
        changes = risk_limits.changes_from_proto(request.limits, list(request.update_mask.paths))
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = await session.get(RiskLimitsRow, request.user_id, with_for_update=True)
            current = risk_limits.stored(self.defaults, row.limits) if row else self.defaults
            updated = risk_limits.validated(current, changes)
            stored = {k: v for k, v in risk_limits.to_row(updated).items()
                      if v != risk_limits.to_row(self.defaults)[k]}
            response = pb.UpdateRiskLimitsResponse(limits=risk_limits.to_proto(updated))
            response.update_time.FromDatetime(now)
            changed = risk_events.RiskLimitsChanged(event_id=uuid.uuid4().hex, user_id=request.user_id,
                                                    limits=response.limits, changed_by=caller.subject)
            changed.occur_time.FromDatetime(now)
            # Other replicas learn of the change from this event: one too big to publish is
            # refused before the change commits.
            validation.check_event_size(changed, self.bus.max_payload, domain=risk_limits.DOMAIN)
            if row is None:
                row = RiskLimitsRow(user_id=request.user_id, limits=stored, updated_by=caller.subject,
                                    update_time=now)
                session.add(row)
            else:
                row.limits, row.updated_by, row.update_time = stored, caller.subject, now
        self._limits_cache.pop(request.user_id, None)
        await self.bus.publish(f"risk.limits.changed.{request.user_id}", changed, msg_id=changed.event_id)
        return response


class RiskInternalServicer(risk_internal_grpc.RiskInternalServiceServicer):
    """The batched calls of the copy path, over the same book as RiskService."""

    def __init__(self, risk: RiskServicer) -> None:
        self.risk = risk

    @staticmethod
    def _batch(items, name: str):
        if not 0 < len(items) <= MAX_BATCH:
            raise errors.invalid_argument("INVALID_BATCH", f"{name} must hold 1 to {MAX_BATCH} items",
                                          domain=risk_limits.DOMAIN, field=name, count=len(items))
        return items

    async def ReserveOrders(self, request: risk_internal.ReserveOrdersRequest, context):
        caller = reserving_service()
        decisions = await self.risk.reserve_all(caller, self._batch(request.orders, "orders"), isolate=True)
        return risk_internal.ReserveOrdersResponse(decisions=decisions)

    async def CommitReservations(self, request: risk_internal.CommitReservationsRequest, context):
        caller = reserving_service()
        fills = []
        for item in self._batch(request.commits, "commits"):
            try:  # a malformed commit is left out of the answer alone
                fills.append(_fill(item.follower_id, item.commit) if item.follower_id else None)
            except errors.DomainError:
                fills.append(None)
        rows = await self.risk.book.settle(caller, [f for f in fills if f is not None], commit=True)
        return risk_internal.CommitReservationsResponse(
            reservation_ids=[f.client_id for f, row in zip([f for f in fills if f is not None], rows) if row])

    async def ReleaseReservations(self, request: risk_internal.ReleaseReservationsRequest, context):
        caller = reserving_service()
        fills = [Fill(item.release.reservation_id, item.follower_id)
                 for item in self._batch(request.releases, "releases") if item.follower_id]
        rows = await self.risk.book.settle(caller, fills, commit=False)
        return risk_internal.ReleaseReservationsResponse(
            reservation_ids=[f.client_id for f, row in zip(fills, rows) if row])
