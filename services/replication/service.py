"""ReplicationService over gRPC: thin; rules live in the domain modules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from sqlalchemy import or_, select

from copytrade.compliance.v1 import compliance_internal_service_pb2 as compliance_internal_pb
from copytrade.compliance.v1 import compliance_service_pb2 as compliance_pb
from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.replication.v1 import replication_service_pb2_grpc as pb_grpc
from copytrade.type.v1 import trading_pb2
from services.domain import copy_settings
from services.kit import audit, auth, errors, paging, validation
from services.kit.bus import Bus
from services.kit.db import Database, aware
from services.replication import join, performance, sessions
from services.replication.accounts import DOMAIN, validate_new_account
from services.replication.fills import FillOutbox, record_and_publish
from services.replication.orders import order_to_proto
from services.replication.error_book import OPEN as OPEN_ERRORS
from services.replication.venues.base import VenueError
from services.replication.store import (AllowedFollowerRow, CopySessionRow, ErrorEventRow, FollowerOrderRow,
                                        MasterAccessRow, MasterFillRow, VenueAccountRow)

log = logging.getLogger("copytrade.replication.service")
LIVE_STATES = (pb.SESSION_STATE_ACTIVE, pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN)
EVENT_KINDS = {"FollowerOrderPlaced": "placed", "FollowerOrderFilled": "filled", "CopyRefused": "refused",
               "CopyFailed": "failed", "FollowerOrderCanceled": "canceled"}


def session_to_proto(row: CopySessionRow) -> pb.CopySession:
    session = pb.CopySession(
        config_id=row.config_id, follower_id=row.follower_id, follower_account_id=row.follower_account_id,
        master_id=row.master_id, master_account_id=row.master_account_id,
        settings=copy_settings.from_json(row.settings), state=row.state, state_reason=row.state_reason)
    session.create_time.FromDatetime(row.create_time)
    session.update_time.FromDatetime(row.update_time)
    return session


def _allowed_to_proto(row: AllowedFollowerRow) -> pb.AllowedFollower:
    allowed = pb.AllowedFollower(account_id=row.account_id, follower_id=row.follower_id)
    allowed.create_time.FromDatetime(row.create_time)
    return allowed


def account_to_proto(row: VenueAccountRow) -> pb.VenueAccount:
    account = pb.VenueAccount(
        account_id=row.account_id, user_id=row.user_id, role=row.role, credential_id=row.credential_id,
        label=row.label, watch_fills=row.watch_fills,
        venue=trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type))
    account.create_time.FromDatetime(row.create_time)
    return account


def _money(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.00000001")).normalize(), "f")
    return "0" if text == "-0" else text


def performance_to_proto(config_id: str, currency: str, result: performance.Performance
                         ) -> pb.CopySessionPerformance:
    message = pb.CopySessionPerformance(
        config_id=config_id, currency=currency, invested=_money(result.invested),
        realized_pnl=_money(result.realized_pnl), unrealized_pnl=_money(result.unrealized_pnl),
        fees=_money(result.fees), net_pnl=_money(result.net_pnl), volume=_money(result.volume),
        roi=_money(result.roi) if result.roi is not None else "", fill_count=result.fill_count)
    for p in result.positions:
        message.positions.add(symbol=p.symbol, quantity=_money(p.quantity), entry_price=_money(p.entry_price),
                              mark_price=_money(p.mark_price), unrealized_pnl=_money(p.unrealized_pnl))
    for moment, net in result.curve:
        point = message.curve.add(net_pnl=_money(net))
        point.time.FromDatetime(moment)
    return message


def _venue(kind: int, venue_id: str, name: str, markets: list[int], key: str = "API key", secret: str = "API secret",
           passphrase: str = "") -> pb.SupportedVenue:
    return pb.SupportedVenue(kind=kind, id=venue_id, display_name=name, market_types=markets,
                             needs_passphrase=bool(passphrase), api_key_label=key, api_secret_label=secret,
                             passphrase_label=passphrase)


_SPOT, _PERP, _FUT = trading_pb2.MARKET_TYPE_SPOT, trading_pb2.MARKET_TYPE_PERPETUAL, trading_pb2.MARKET_TYPE_FUTURE
# The venues with an adapter (venue_pool.OPENERS), and what each one's keys are called there.
SUPPORTED_VENUES = [
    _venue(trading_pb2.VENUE_KIND_CCXT, "binance", "Binance", [_SPOT, _PERP, _FUT]),
    _venue(trading_pb2.VENUE_KIND_CCXT, "bybit", "Bybit", [_SPOT, _PERP]),
    _venue(trading_pb2.VENUE_KIND_CCXT, "okx", "OKX", [_SPOT, _PERP], passphrase="API passphrase"),
    _venue(trading_pb2.VENUE_KIND_CCXT, "kucoin", "KuCoin", [_SPOT], passphrase="API passphrase"),
    _venue(trading_pb2.VENUE_KIND_CCXT, "coinbase", "Coinbase", [_SPOT], key="API key name",
           secret="Private key"),
    _venue(trading_pb2.VENUE_KIND_CCXT, "kraken", "Kraken", [_SPOT], secret="Private key"),
    _venue(trading_pb2.VENUE_KIND_IB, "ib", "Interactive Brokers", [_FUT], key="Account code",
           secret="TWS / Gateway address (host:port)", passphrase="API client id"),
    _venue(trading_pb2.VENUE_KIND_RITHMIC, "rithmic", "Rithmic", [_FUT], key="User name", secret="Password",
           passphrase="System name (and |account id)"),
    _venue(trading_pb2.VENUE_KIND_NINJATRADER, "ninjatrader", "NinjaTrader 8", [_FUT], key="Account name",
           secret="Account cash (USD)", passphrase="Connection name"),
]


class ReplicationServicer(pb_grpc.ReplicationServiceServicer):
    def __init__(self, db: Database, bus: Bus, outbox: FillOutbox, compliance: ComplianceServiceStub,
                 audit_trail: ComplianceInternalServiceStub | None = None, *, pool=None, reconciler=None,
                 joiner=None) -> None:
        self.db = db
        self.bus = bus
        self.outbox = outbox
        self.compliance = compliance
        self.audit = audit_trail
        self.pool = pool  # the follower venues, for a session's performance
        self.reconciler = reconciler  # closes a stopped session's positions
        self._opening: set[asyncio.Task] = set()  # new sessions' follower venues being opened
        self.joiner = joiner  # joins a starting session to its master's open positions

    async def _require_eligible(self, follower_id: str) -> None:
        """Compliance decides who may copy (KYC, consent); its refusal is passed on as it is."""
        reply = await self.compliance.CheckCopyEligibility(
            compliance_pb.CheckCopyEligibilityRequest(user_id=follower_id), timeout=5)
        if not reply.eligible:
            raise errors.failed_precondition(reply.refusal.reason, reply.refusal.message,
                                             domain=reply.refusal.domain, **dict(reply.refusal.metadata))

    # --- copy sessions -------------------------------------------------------------------
    async def StartCopySession(self, request: pb.StartCopySessionRequest, context) -> pb.StartCopySessionResponse:
        caller = auth.require_caller()
        follower_id = request.follower_id or caller.user_id
        auth.require_user(follower_id)
        settings = copy_settings.validate(request.settings)  # noqa: F841 - refuses bad settings now, not per fill
        follower_account = await self._owned_account(request.follower_account_id)
        await self._require_eligible(follower_id)
        if follower_account.user_id != follower_id or follower_account.role != pb.ACCOUNT_ROLE_FOLLOWER:
            raise errors.invalid_argument("NOT_A_FOLLOWER_ACCOUNT", "follower_account_id must be one of your "
                                          "follower accounts", domain=DOMAIN, field="follower_account_id")
        # Joining the master's open positions: started and joined while none of the master's fills
        # is being copied, so each is either in the position joined or copied to the session after.
        joining = request.settings.copy_open_positions
        async with self.joiner.master_settled(request.master_account_id) if joining else contextlib.nullcontext():
            row, created = await self._open_session(request, follower_id, follower_account)
            if created:
                await sessions.announce(self.bus, row)
                # Opened now, not by the master's next fill (a ccxt client costs ms of CPU); a join opens it itself.
                if self.pool is not None and not joining:
                    self._opening.add(task := asyncio.create_task(self._open_venue(follower_account)))
                    task.add_done_callback(self._opening.discard)
            joined = await self._join(row) if joining else []
        return pb.StartCopySessionResponse(session=session_to_proto(row),
                                           joined_orders=[order_to_proto(order) for order in joined])

    async def _open_session(self, request: pb.StartCopySessionRequest, follower_id: str,
                            follower_account: VenueAccountRow) -> tuple[CopySessionRow, bool]:
        """The new session, ACTIVE (or the one a retried request made: created False)."""
        async with self.db.session() as session:
            master_account = await session.get(VenueAccountRow, request.master_account_id)
            if master_account is None or master_account.role != pb.ACCOUNT_ROLE_MASTER:
                raise errors.not_found("MASTER_ACCOUNT_NOT_FOUND", "no such master account", domain=DOMAIN,
                                       field="master_account_id")
            if not await sessions.may_copy(session, master_account, follower_id):
                raise sessions.not_allowed(master_account.account_id)
            if request.request_id:
                done = (await session.execute(select(CopySessionRow).where(
                    CopySessionRow.follower_id == follower_id, CopySessionRow.request_id == request.request_id))
                ).scalar_one_or_none()
                if done is not None:
                    return done, False
            running = (await session.execute(select(CopySessionRow).where(
                CopySessionRow.follower_account_id == follower_account.account_id,
                CopySessionRow.master_account_id == master_account.account_id,
                CopySessionRow.state.in_(LIVE_STATES)))).scalar_one_or_none()
            if running is not None:
                raise errors.already_exists("SESSION_EXISTS", "this account already copies that master",
                                            domain=DOMAIN, config_id=running.config_id)
            now = datetime.now(UTC)
            row = CopySessionRow(
                config_id=f"cs_{uuid.uuid4().hex[:20]}", follower_id=follower_id,
                follower_account_id=follower_account.account_id, master_id=master_account.user_id,
                master_account_id=master_account.account_id, settings=copy_settings.to_json(request.settings),
                state=pb.SESSION_STATE_ACTIVE, state_reason="", request_id=request.request_id or None,
                create_time=now, update_time=now)
            session.add(row)
        return row, True

    async def _join(self, row: CopySessionRow) -> list[FollowerOrderRow]:
        """The session's joins (made now, or found made by a retried start), the master's lock held."""
        try:
            return await self.joiner.join_settled(row)
        except errors.DomainError:
            raise
        except Exception as exc:  # noqa: BLE001 - risk or the database away: said, and a retry finishes it
            log.warning("session %s started, its join not finished: %s", row.config_id, exc)
            raise errors.unavailable("JOIN_INCOMPLETE", "the session started, but joining the master's open "
                                     "positions could not be finished; start it again with the same request_id "
                                     "to finish", domain=DOMAIN, config_id=row.config_id) from None

    async def _open_venue(self, account: VenueAccountRow) -> None:
        try:
            await self.pool.open_many([account])
        except Exception as exc:  # noqa: BLE001 - the first copy opens it then, and says why it cannot
            log.warning("venue of %s not opened ahead: %s", account.account_id, exc)

    async def _change_state(self, config_id: str, allowed_from: tuple[int, ...], state: int, reason: str
                            ) -> pb.CopySession:
        async with self.db.session() as session:
            row = sessions.owned(await session.get(CopySessionRow, config_id, with_for_update=True), config_id)
            if row.state != state and row.state not in allowed_from:
                raise errors.failed_precondition(
                    "INVALID_SESSION_STATE", f"the session is {pb.SessionState.Name(row.state)}", domain=DOMAIN,
                    state=pb.SessionState.Name(row.state))
            changed = row.state != state
            if changed:
                row.state, row.state_reason, row.update_time = state, reason, datetime.now(UTC)
        if changed:
            await sessions.announce(self.bus, row)
        return session_to_proto(row)

    async def UpdateCopySettings(self, request: pb.UpdateCopySettingsRequest, context):
        async with self.db.session() as session:
            row = sessions.owned(await session.get(CopySessionRow, request.config_id, with_for_update=True)
                                 if request.config_id else None, request.config_id)
            if row.state == pb.SESSION_STATE_STOPPED:
                raise errors.failed_precondition("INVALID_SESSION_STATE", "a stopped session's settings are final",
                                                 domain=DOMAIN, state="SESSION_STATE_STOPPED")
            merged = copy_settings.from_json(row.settings)
            if request.update_mask.paths:
                unknown = [p for p in request.update_mask.paths if p not in pb.CopySettings.DESCRIPTOR.fields_by_name]
                if unknown:
                    raise errors.invalid_argument("INVALID_UPDATE_MASK", f"no such settings field: {unknown[0]}",
                                                  domain=DOMAIN, field="update_mask")
                request.update_mask.MergeMessage(request.settings, merged, replace_message_field=True,
                                                 replace_repeated_field=True)
            else:
                merged = request.settings
            copy_settings.validate(merged)  # the whole result must make sense, not just the change
            row.settings, row.update_time = copy_settings.to_json(merged), datetime.now(UTC)
        changed = ", ".join(request.update_mask.paths) or "all"
        await sessions.announce(self.bus, row, reason=f"settings changed ({changed}) by {auth.current().subject}")
        return pb.UpdateCopySettingsResponse(session=session_to_proto(row))

    async def StopCopySession(self, request, context) -> pb.StopCopySessionResponse:
        stopped = await self._change_state(request.config_id, LIVE_STATES, pb.SESSION_STATE_STOPPED,
                                           request.reason or "stopped")
        if not request.close_positions:
            return pb.StopCopySessionResponse(session=stopped)
        # Stopped first, so no copy of the master's next trade reopens what is being closed.
        async with self.db.session() as session:
            row = await session.get(CopySessionRow, request.config_id)
        try:
            async with self.copies_settled(row):
                result = await self.reconciler.reconcile(row, flatten=True)
        except VenueError as exc:
            raise errors.unavailable("VENUE_UNAVAILABLE", f"the session is stopped, but its positions could not "
                                     f"be closed: the venue did not answer ({exc.kind.name})", domain=DOMAIN,
                                     config_id=request.config_id) from None
        return pb.StopCopySessionResponse(session=stopped, close_resolution=result.resolution)

    @contextlib.asynccontextmanager
    async def copies_settled(self, row: CopySessionRow):
        """Held while a stopped session's positions are measured and closed: a copy of its
        master's fill begun before the stop (on any replica, under that master's lock; here,
        under the follower's) is at the venue and booked first, so it is not closed twice."""
        async with self.db.session() as lock:
            await self.db.serialise(lock, f"copying-master:{row.master_account_id}")
            async with self.reconciler.copier.follower_lock(row.follower_account_id):
                yield

    async def GetCopySessionPerformance(self, request, context) -> pb.GetCopySessionPerformanceResponse:
        async with self.db.session() as session:
            row = sessions.owned(await session.get(CopySessionRow, request.config_id)
                                 if request.config_id else None, request.config_id)
            account = await session.get(VenueAccountRow, row.follower_account_id)
            orders = (await session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.config_id == row.config_id))).scalars().all()
        ours = {o.venue_order_id for o in orders if o.venue_order_id}
        symbols = sorted({o.symbol for o in orders if o.venue_order_id})
        fills, marks, sizes, currency = [], {}, {}, ""
        try:
            venue = await self.pool.get(account)
            for symbol in symbols:
                instrument = await venue.instrument(symbol)
                sizes[symbol], currency = instrument.contract_size, currency or instrument.quote
                fills += [f for f in await venue.trades(symbol, aware(row.create_time)) if f.venue_order_id in ours]
                marks[symbol] = await venue.price(symbol)
        except VenueError as exc:
            raise errors.unavailable("VENUE_UNAVAILABLE", f"the venue did not answer ({exc.kind.name}); try again",
                                     domain=DOMAIN, config_id=row.config_id) from None
        settings = copy_settings.from_json(row.settings)
        allocated = Decimal(settings.allocated_capital) if settings.allocated_capital else None
        result = performance.compute(fills, marks, contract_sizes=sizes, allocated_capital=allocated)
        return pb.GetCopySessionPerformanceResponse(performance=performance_to_proto(row.config_id, currency, result))

    async def ListSupportedVenues(self, request, context) -> pb.ListSupportedVenuesResponse:
        auth.require_caller()
        return pb.ListSupportedVenuesResponse(venues=SUPPORTED_VENUES)

    async def PauseCopySession(self, request, context) -> pb.PauseCopySessionResponse:
        return pb.PauseCopySessionResponse(session=await self._change_state(
            request.config_id, (pb.SESSION_STATE_ACTIVE,), pb.SESSION_STATE_PAUSED, request.reason or "paused"))

    async def ResumeCopySession(self, request, context) -> pb.ResumeCopySessionResponse:
        async with self.db.session() as session:
            row = await session.get(CopySessionRow, request.config_id)
        if row is not None and auth.require_caller().may_act_for(row.follower_id):
            await self._require_eligible(row.follower_id)  # consent may have gone out of date meanwhile
        # From FROZEN too: the follower chooses to copy on without a resync.
        return pb.ResumeCopySessionResponse(session=await self._change_state(
            request.config_id, (pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_FROZEN), pb.SESSION_STATE_ACTIVE, ""))

    async def GetCopySessionStatus(self, request, context) -> pb.GetCopySessionStatusResponse:
        async with self.db.session() as session:
            row = sessions.owned(await session.get(CopySessionRow, request.config_id), request.config_id)
            orders = (await session.execute(select(FollowerOrderRow).where(
                FollowerOrderRow.config_id == row.config_id))).scalars().all()
        return pb.GetCopySessionStatusResponse(session=session_to_proto(row), stats=_stats(orders))

    async def ListCopySessions(self, request, context) -> pb.ListCopySessionsResponse:
        caller = auth.require_caller()
        query = select(CopySessionRow)
        if request.master_id:
            auth.require_user(request.master_id)
            query = query.where(CopySessionRow.master_id == request.master_id)
        else:
            follower_id = request.follower_id or caller.user_id
            auth.require_user(follower_id)
            query = query.where(CopySessionRow.follower_id == follower_id)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, CopySessionRow.config_id, request.page_size,
                                                   request.page_token)
        return pb.ListCopySessionsResponse(sessions=[session_to_proto(r) for r in rows], next_page_token=token)

    # --- master fills and follower orders ------------------------------------------------
    async def SubmitMasterFill(self, request: pb.SubmitMasterFillRequest, context) -> pb.SubmitMasterFillResponse:
        account = await self._owned_account(request.master_account_id)
        if account.role != pb.ACCOUNT_ROLE_MASTER:
            raise errors.invalid_argument("NOT_A_MASTER_ACCOUNT", "fills are submitted for master accounts",
                                          domain=DOMAIN, field="master_account_id")
        for field, bound in (("quantity", validation.QUANTITY), ("price", validation.PRICE)):
            validation.parse_decimal(getattr(request, field), field, bound, reason="INVALID_FILL", domain=DOMAIN)
        # Optional, known to some sources: the fee (may be zero) and the master's equity.
        validation.parse_decimal(request.fee, "fee", validation.MONEY, reason="INVALID_FILL", domain=DOMAIN,
                                 default=Decimal(0))
        if request.master_equity:
            validation.parse_decimal(request.master_equity, "master_equity", validation.POSITIVE_MONEY,
                                     reason="INVALID_FILL", domain=DOMAIN)
        if not request.venue_trade_id or not request.symbol or request.side not in (trading_pb2.SIDE_BUY,
                                                                                    trading_pb2.SIDE_SELL):
            raise errors.invalid_argument("INVALID_FILL", "venue_trade_id, symbol and side are required",
                                          domain=DOMAIN, field="venue_trade_id")
        fill = events.MasterFill(
            fill_id=f"{account.account_id}:{request.venue_trade_id}", master_account_id=account.account_id,
            master_id=account.user_id,
            venue=trading_pb2.Venue(kind=account.venue_kind, id=account.venue_id, market_type=account.market_type),
            venue_trade_id=request.venue_trade_id, venue_order_id=request.venue_order_id, symbol=request.symbol,
            side=request.side, quantity=request.quantity, price=request.price, fee=request.fee,
            fee_currency=request.fee_currency, master_equity=request.master_equity,
            order_type=request.order_type or trading_pb2.ORDER_TYPE_MARKET)
        now = datetime.now(UTC)
        if request.HasField("execute_time"):
            fill.execute_time.CopyFrom(request.execute_time)
        else:
            fill.execute_time.FromDatetime(now)
        fill.receive_time.FromDatetime(now)
        stored, created = await record_and_publish(self.db, self.outbox, fill)
        return pb.SubmitMasterFillResponse(fill=stored, created=created)

    async def ListFollowerOrders(self, request, context) -> pb.ListFollowerOrdersResponse:
        caller = auth.require_caller()
        follower_id = request.follower_id or caller.user_id
        auth.require_user(follower_id)
        query = select(FollowerOrderRow).where(FollowerOrderRow.follower_id == follower_id)
        if request.config_id:
            query = query.where(FollowerOrderRow.config_id == request.config_id)
        if request.master_fill_id:
            query = query.where(FollowerOrderRow.master_fill_id == request.master_fill_id)
        async with self.db.session() as session:
            rows, token = await paging.newest_first_page(session, query, FollowerOrderRow.receive_time,
                                                         FollowerOrderRow.order_id, request.page_size,
                                                         request.page_token)
        return pb.ListFollowerOrdersResponse(orders=[order_to_proto(r) for r in rows], next_page_token=token)

    async def GetFollowerOrder(self, request, context) -> pb.GetFollowerOrderResponse:
        async with self.db.session() as session:
            row = await session.get(FollowerOrderRow, request.order_id) if request.order_id else None
        if row is None or not auth.require_caller().may_act_for(row.follower_id):
            raise errors.not_found("ORDER_NOT_FOUND", "no such follower order", domain=DOMAIN,
                                   order_id=request.order_id)
        return pb.GetFollowerOrderResponse(order=order_to_proto(row))

    async def ListMasterFills(self, request, context) -> pb.ListMasterFillsResponse:
        account = await self._owned_account(request.master_account_id)
        query = select(MasterFillRow).where(MasterFillRow.master_account_id == account.account_id)
        async with self.db.session() as session:
            rows, token = await paging.newest_first_page(session, query, MasterFillRow.execute_time,
                                                         MasterFillRow.fill_id, request.page_size, request.page_token)
        return pb.ListMasterFillsResponse(fills=[events.MasterFill.FromString(r.payload) for r in rows],
                                          next_page_token=token)

    async def StreamCopyEvents(self, request: pb.StreamCopyEventsRequest, context):
        caller = auth.require_caller()
        master_prefixes: tuple[str, ...] = ()
        if request.master_id:
            auth.require_user(request.master_id)
            master_prefixes = tuple(await self._master_accounts(request.master_id))
            subject = "copies.order.*.*"
        else:
            follower_id = request.follower_id or caller.user_id
            auth.require_user(follower_id)
            subject = f"copies.order.*.{follower_id}"
        feed = await self.bus.follow("COPIES", subject, request.after_sequence)
        await context.send_initial_metadata(())  # subscribed: the client may now expect every event
        try:
            async for sequence, event in feed:
                # fill ids start with the master account id (a join's: "join:" and it)
                if master_prefixes and not event.order.master_fill_id.startswith(master_prefixes):
                    continue
                # A copy fills in steps (a resting one over time, any in several venue trades):
                # each step is its own event.
                step = ""
                if isinstance(event, events.FollowerOrderFilled):
                    step = f":{event.order.filled_quantity}" + (f":{event.venue_trade_id}" if event.venue_trade_id
                                                                  else "")
                copy_event = events.CopyEvent(event_id=f"{event.order.order_id}:{type(event).__name__}{step}")
                copy_event.occur_time.FromDatetime(datetime.now(UTC))
                getattr(copy_event, EVENT_KINDS[type(event).__name__]).CopyFrom(event)
                order = event.order
                if order.HasField("ack_time") and order.HasField("master_fill_time"):
                    copy_event.copy_latency_ms = (order.ack_time.ToNanoseconds() -
                                                  order.master_fill_time.ToNanoseconds()) / 1e6
                yield pb.StreamCopyEventsResponse(event=copy_event, sequence=sequence)
        finally:
            await feed.aclose()

    async def _master_accounts(self, master_id: str) -> list[str]:
        async with self.db.session() as session:
            rows = await session.execute(select(VenueAccountRow.account_id).where(VenueAccountRow.user_id == master_id))
        return [prefix for account_id in rows.scalars()
                for prefix in (f"{account_id}:", f"{join.PREFIX}{account_id}:")]

    async def _owned_account(self, account_id: str) -> VenueAccountRow:
        async with self.db.session() as session:
            row = await session.get(VenueAccountRow, account_id)
        # Someone else's account reads as missing: its existence is not the caller's business.
        if row is None or not auth.require_caller().may_act_for(row.user_id):
            raise errors.not_found("ACCOUNT_NOT_FOUND", "no such venue account", domain=DOMAIN,
                                   account_id=account_id)
        return row

    async def _require_own_credential(self, user_id: str, credential_id: str) -> None:
        """A venue account trades with its own user's keys only: compliance says whose they are."""
        try:
            owned = (await self.audit.VerifyCredentialOwner(compliance_internal_pb.VerifyCredentialOwnerRequest(
                credential_id=credential_id, user_id=user_id), timeout=5)).owned
        except grpc.aio.AioRpcError as err:
            raise errors.passed_on(err) from None
        if not owned:
            raise errors.permission_denied("NOT_YOUR_CREDENTIAL", "credential_id must name one of your own stored "
                                           "credentials", domain=DOMAIN, field="credential_id")

    async def CreateVenueAccount(self, request: pb.CreateVenueAccountRequest, context) -> pb.CreateVenueAccountResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        validate_new_account(request)
        await self._require_own_credential(user_id, request.credential_id)
        async with self.db.session() as session:
            if request.request_id:  # a retried create returns what the first one made
                existing = (await session.execute(select(VenueAccountRow).where(
                    VenueAccountRow.user_id == user_id, VenueAccountRow.request_id == request.request_id))
                ).scalar_one_or_none()
                if existing is not None:
                    return pb.CreateVenueAccountResponse(account=account_to_proto(existing))
            row = VenueAccountRow(
                account_id=f"acc_{uuid.uuid4().hex[:20]}", user_id=user_id, role=request.role,
                venue_kind=request.venue.kind, venue_id=request.venue.id, market_type=request.venue.market_type,
                credential_id=request.credential_id, label=request.label.strip(), watch_fills=request.watch_fills,
                request_id=request.request_id or None, create_time=datetime.now(UTC))
            session.add(row)
        await audit.record(self.audit, "venue_account.created", f"venue_accounts/{row.account_id}", row.user_id,
                           venue=row.venue_id, role=pb.AccountRole.Name(row.role), watch_fills=row.watch_fills)
        return pb.CreateVenueAccountResponse(account=account_to_proto(row))

    # --- private masters: the allow-list the master keeps ----------------------------------
    async def _owned_master(self, account_id: str) -> VenueAccountRow:
        account = await self._owned_account(account_id)
        if account.role != pb.ACCOUNT_ROLE_MASTER:
            raise errors.invalid_argument("NOT_A_MASTER_ACCOUNT", "copy access is set on master accounts",
                                          domain=DOMAIN, field="account_id")
        return account

    async def GetMasterAccess(self, request: pb.GetMasterAccessRequest, context) -> pb.GetMasterAccessResponse:
        account = await self._owned_master(request.account_id)
        async with self.db.session() as session:
            access = await session.get(MasterAccessRow, account.account_id)
        return pb.GetMasterAccessResponse(access=pb.MasterAccess(account_id=account.account_id,
                                                                 private=bool(access and access.private)))

    async def SetMasterAccess(self, request: pb.SetMasterAccessRequest, context) -> pb.SetMasterAccessResponse:
        account = await self._owned_master(request.account_id)
        async with self.db.session() as session:
            access = await session.get(MasterAccessRow, account.account_id, with_for_update=True)
            if access is None:
                access = MasterAccessRow(account_id=account.account_id)
                session.add(access)
            access.private, access.update_time = request.private, datetime.now(UTC)
        stopped = await sessions.stop_disallowed(self.db, self.bus, account.account_id) if request.private else []
        await audit.record(self.audit, "master_access.set", f"venue_accounts/{account.account_id}", account.user_id,
                           private=request.private, sessions_stopped=len(stopped))
        return pb.SetMasterAccessResponse(access=pb.MasterAccess(account_id=account.account_id,
                                                                 private=request.private),
                                          stopped_config_ids=stopped)

    async def AllowFollower(self, request: pb.AllowFollowerRequest, context) -> pb.AllowFollowerResponse:
        account = await self._owned_master(request.account_id)
        follower_id = request.follower_id.strip()
        if not follower_id or len(follower_id) > 64:
            raise errors.invalid_argument("INVALID_FOLLOWER", "follower_id is a user id (at most 64 characters)",
                                          domain=DOMAIN, field="follower_id")
        async with self.db.session() as session:
            row = await session.get(AllowedFollowerRow, (account.account_id, follower_id))
            if row is None:
                row = AllowedFollowerRow(account_id=account.account_id, follower_id=follower_id,
                                         create_time=datetime.now(UTC))
                session.add(row)
        await audit.record(self.audit, "master_access.follower_allowed", f"venue_accounts/{account.account_id}",
                           account.user_id, follower_id=follower_id)
        return pb.AllowFollowerResponse(allowed=_allowed_to_proto(row))

    async def RemoveAllowedFollower(self, request: pb.RemoveAllowedFollowerRequest, context):
        account = await self._owned_master(request.account_id)
        async with self.db.session() as session:
            row = await session.get(AllowedFollowerRow, (account.account_id, request.follower_id))
            if row is None:
                raise errors.not_found("FOLLOWER_NOT_ALLOWED", "that follower is not on this account's allow-list",
                                       domain=DOMAIN, follower_id=request.follower_id)
            await session.delete(row)
        stopped = await sessions.stop_disallowed(self.db, self.bus, account.account_id, request.follower_id)
        await audit.record(self.audit, "master_access.follower_removed", f"venue_accounts/{account.account_id}",
                           account.user_id, follower_id=request.follower_id, sessions_stopped=len(stopped))
        return pb.RemoveAllowedFollowerResponse(stopped_config_ids=stopped)

    async def ListAllowedFollowers(self, request: pb.ListAllowedFollowersRequest, context):
        account = await self._owned_master(request.account_id)
        query = select(AllowedFollowerRow).where(AllowedFollowerRow.account_id == account.account_id)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, AllowedFollowerRow.follower_id, request.page_size,
                                                   request.page_token)
        return pb.ListAllowedFollowersResponse(followers=[_allowed_to_proto(r) for r in rows], next_page_token=token)

    async def GetVenueAccount(self, request: pb.GetVenueAccountRequest, context) -> pb.GetVenueAccountResponse:
        return pb.GetVenueAccountResponse(account=account_to_proto(await self._owned_account(request.account_id)))

    async def ListVenueAccounts(self, request: pb.ListVenueAccountsRequest, context) -> pb.ListVenueAccountsResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        query = select(VenueAccountRow).where(VenueAccountRow.user_id == user_id)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, VenueAccountRow.account_id, request.page_size,
                                                   request.page_token)
        return pb.ListVenueAccountsResponse(accounts=[account_to_proto(r) for r in rows], next_page_token=token)

    async def DeleteVenueAccount(self, request: pb.DeleteVenueAccountRequest, context):
        account = await self._owned_account(request.account_id)
        async with self.db.session() as session:
            in_use = (await session.execute(select(CopySessionRow.config_id).where(
                or_(CopySessionRow.follower_account_id == account.account_id,
                    CopySessionRow.master_account_id == account.account_id),
                CopySessionRow.state.in_(LIVE_STATES)).limit(1))).scalar_one_or_none()
            if in_use is not None:
                raise errors.failed_precondition("ACCOUNT_IN_USE", "a copy session still uses this account; stop "
                                                 "it first", domain=DOMAIN, config_id=in_use)
            waiting = (await session.execute(select(ErrorEventRow.error_id).join(
                FollowerOrderRow, FollowerOrderRow.order_id == ErrorEventRow.order_id).where(
                FollowerOrderRow.follower_account_id == account.account_id,
                ErrorEventRow.status.in_(OPEN_ERRORS)).limit(1))).scalar_one_or_none()
            if waiting is not None:
                raise errors.failed_precondition("ACCOUNT_HAS_OPEN_ERRORS", "a failed copy on this account still "
                                                 "waits for a retry or a person; resolve or cancel it first",
                                                 domain=DOMAIN, error_id=waiting)
            await session.delete(await session.get(VenueAccountRow, account.account_id))
        deleted = events.VenueAccountDeleted(account_id=account.account_id, user_id=account.user_id)
        deleted.occur_time.GetCurrentTime()
        await self.bus.publish(f"copies.account.deleted.{account.user_id}", deleted,
                               msg_id=f"{account.account_id}:deleted")
        await audit.record(self.audit, "venue_account.deleted", f"venue_accounts/{account.account_id}",
                           account.user_id, venue=account.venue_id)
        return pb.DeleteVenueAccountResponse()


def _stats(orders: list[FollowerOrderRow]) -> pb.CopySessionStats:
    placed = [o for o in orders if o.ack_time is not None]
    latencies = sorted((o.ack_time - o.master_fill_time).total_seconds() * 1000 for o in placed)
    stats = pb.CopySessionStats(
        master_fills_seen=len({o.master_fill_id for o in orders}), orders_placed=len(placed),
        orders_filled=sum(1 for o in orders if o.status == events.FOLLOWER_ORDER_STATUS_FILLED),
        copies_refused=sum(1 for o in orders if o.status == events.FOLLOWER_ORDER_STATUS_REFUSED),
        copies_failed=sum(1 for o in orders if o.status == events.FOLLOWER_ORDER_STATUS_FAILED))
    if latencies:
        stats.latency_p50_ms = latencies[len(latencies) // 2]
        stats.latency_p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        stats.last_copy_time.FromDatetime(max(o.ack_time for o in placed))
    return stats
