"""RiskService over gRPC: thin; the rules live in limits.py."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime

from decimal import Decimal

from copytrade.risk.v1 import risk_events_pb2 as risk_events
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1 import risk_service_pb2_grpc as pb_grpc
from copytrade.type.v1 import trading_pb2
from services.kit import auth, errors, validation
from services.kit.bus import Bus
from services.kit.db import Database
from services.risk import checks
from services.risk import limits as risk_limits
from services.risk.monitor import BreakerMonitor, StateKeeper
from services.risk.reservations import ReservationBook, scope_key
from services.risk.store import ReservationRow, RiskLimitsRow, TradingStateRow

LIMITS_TTL_S = 5.0
DECISIONS = {"APPROVED": pb.DECISION_APPROVED, "REDUCED": pb.DECISION_REDUCED, "DENIED": pb.DECISION_DENIED}
STATES = {checks.ACTIVE: trading_pb2.TRADING_STATE_ACTIVE, checks.REDUCING: trading_pb2.TRADING_STATE_REDUCING,
          checks.HALTED: trading_pb2.TRADING_STATE_HALTED}
STATE_NAMES = {v: k for k, v in STATES.items()}


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


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, db: Database, defaults: risk_limits.RiskLimits, bus: Bus) -> None:
        self.db = db
        self.defaults = defaults
        self.bus = bus
        self.book = ReservationBook(db)
        self.states = StateKeeper(self.book, bus)
        self._limits_cache: dict[str, tuple[risk_limits.RiskLimits, RiskLimitsRow | None, float]] = {}
        self.monitor = BreakerMonitor(db, bus, self.states, self._limits_only)

    async def _limits_only(self, user_id: str) -> risk_limits.RiskLimits:
        return (await self._limits(user_id))[0]

    def _authorise_scope(self, scope: pb.TradingScope) -> auth.Caller:
        if not scope.user_id:  # the whole platform
            return auth.require_role(auth.ROLE_OPERATOR)
        return auth.require_user(scope.user_id)

    async def _evaluate(self, intent: pb.OrderIntent) -> tuple[checks.Order, Decimal, risk_limits.RiskLimits]:
        auth.require_user(intent.follower_id)
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
        limits, _ = await self._limits(intent.follower_id)
        return order, equity, limits

    @staticmethod
    def _returns(intent: pb.OrderIntent) -> dict[str, tuple[list[float], float]]:
        series = {}
        for item in intent.returns:
            if item.periods_per_year <= 0 or not all(math.isfinite(r) for r in item.returns):
                raise errors.invalid_argument("INVALID_ORDER", "returns need finite values and periods_per_year > 0",
                                              domain=risk_limits.DOMAIN, field="intent.returns")
            series[item.symbol] = (list(item.returns), item.periods_per_year)
        return series

    async def CheckOrder(self, request: pb.CheckOrderRequest, context) -> pb.CheckOrderResponse:
        order, equity, limits = await self._evaluate(request.intent)
        async with self.db.session() as session:
            book = await self.book._book(session, request.intent.follower_id, equity, datetime.now(UTC),
                                         self._returns(request.intent))
            state = await self.book.effective_state(session, request.intent.follower_id, request.intent.master_id)
        decision = checks.decide(limits, state, book, order)
        return pb.CheckOrderResponse(decision=DECISIONS[decision.outcome], approved_quantity=str(abs(decision.quantity)),
                                     refusal=self._refusal(decision))

    async def ReserveOrder(self, request: pb.ReserveOrderRequest, context) -> pb.ReserveOrderResponse:
        if not request.reservation_id:
            raise errors.invalid_argument("INVALID_ORDER", "reservation_id is required", domain=risk_limits.DOMAIN,
                                          field="reservation_id")
        order, equity, limits = await self._evaluate(request.intent)
        decision, expires = await self.book.reserve(request.reservation_id, request.intent.follower_id,
                                                    request.intent.master_id, order, equity, limits,
                                                    self._returns(request.intent))
        response = pb.ReserveOrderResponse(
            decision=DECISIONS[decision.outcome], approved_quantity=str(abs(decision.quantity)),
            refusal=self._refusal(decision), reservation_id=request.reservation_id)
        response.expire_time.FromDatetime(expires)
        return response

    @staticmethod
    def _refusal(decision: checks.Decision) -> trading_pb2.Refusal | None:
        if not decision.reason:
            return None
        return trading_pb2.Refusal(reason=decision.reason, domain=risk_limits.DOMAIN, message=decision.message,
                                   metadata=decision.metadata)

    @staticmethod
    def _owned(reservation_id: str, invalid: errors.DomainError | None = None):
        """The check a reservation passes before it changes, in the same transaction: the caller
        acts for its user (else it is not found, as if it did not exist). Only then is the
        request's own fault (`invalid`) told: a stranger learns nothing from a bad request."""
        caller = auth.require_caller()

        def check(row: ReservationRow | None) -> None:
            if row is None or not caller.may_act_for(row.user_id):
                raise errors.not_found("RESERVATION_NOT_FOUND", "no such reservation", domain=risk_limits.DOMAIN,
                                       reservation_id=reservation_id)
            if invalid is not None:
                raise invalid
        return check

    async def CommitReservation(self, request: pb.CommitReservationRequest, context) -> pb.CommitReservationResponse:
        filled = price = Decimal(0)
        invalid = None
        try:
            filled = _decimal("filled_quantity", request.filled_quantity, validation.LOT)
            price = _decimal("fill_price", request.fill_price, validation.PRICE)
        except errors.DomainError as exc:
            invalid = exc
        await self.book.commit(request.reservation_id, filled, price, check=self._owned(request.reservation_id, invalid))
        return pb.CommitReservationResponse(reservation_id=request.reservation_id)

    async def ReleaseReservation(self, request: pb.ReleaseReservationRequest, context) -> pb.ReleaseReservationResponse:
        await self.book.release(request.reservation_id, check=self._owned(request.reservation_id))
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
        """A follower's limits. Kept in memory on the copy path: a change made here evicts them at
        once, one made at another replica within milliseconds (its event), and LIMITS_TTL_S bounds
        the age of any reading should an event be lost."""
        cached = self._limits_cache.get(user_id)
        if cached is not None and time.monotonic() - cached[2] < LIMITS_TTL_S:
            return cached[0], cached[1]
        async with self.db.session() as session:
            row = await session.get(RiskLimitsRow, user_id)
        limits = self.defaults if row is None else risk_limits.stored(self.defaults, row.limits)
        if len(self._limits_cache) > 100_000:
            self._limits_cache.clear()
        self._limits_cache[user_id] = (limits, row, time.monotonic())
        return limits, row

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
