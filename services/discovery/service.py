"""DiscoveryService over gRPC: thin; rules live in the domain modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.discovery.v1 import discovery_service_pb2_grpc as pb_grpc
from services.discovery import analytics, preview, profiles
from services.discovery import stats as stats_module
from services.discovery.analytics import Analytics
from services.discovery.store import MasterFillRow, MasterProfileRow, RankingRow
from services.domain import copy_settings
from services.domain.risk import limits as risk_limits
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import audit, auth, errors, paging, validation
from services.kit.db import Database, aware

CAPITAL = validation.Bound(Decimal(0), validation.MONEY.high, low_open=True)  # a preview's starting capital
DEFAULT_FEE_RATE = Decimal("0.001")
MAX_LATENCY_MS = 3_600_000


DEFAULT_ACTIVITY_TRADES, MAX_ACTIVITY_TRADES = 50, 200


def profile_to_proto(row: MasterProfileRow) -> pb.MasterProfile:
    profile = pb.MasterProfile(
        trader_id=row.trader_id, user_id=row.user_id, display_name=row.display_name,
        strategy_type=row.strategy_type, risk_level=row.risk_level, bio=row.bio,
        venues=profiles.venues_from_json(row.venues), master_account_ids=row.master_account_ids, public=row.public)
    profile.create_time.FromDatetime(row.create_time)
    profile.update_time.FromDatetime(row.update_time)
    return profile


class DiscoveryServicer(pb_grpc.DiscoveryServiceServicer):
    def __init__(self, db: Database, replication: ReplicationServiceStub,
                 audit_trail: ComplianceInternalServiceStub | None = None,
                 limits: risk_limits.RiskLimits | None = None) -> None:
        self.db = db
        self.replication = replication
        self.audit = audit_trail
        self.limits = limits or risk_limits.platform_defaults()  # risk's platform defaults, for previews
        self.analytics = Analytics(db, replication, self.limits)

    async def ListMasterTraders(self, request: pb.ListMasterTradersRequest, context) -> pb.ListMasterTradersResponse:
        auth.require_caller()
        window = analytics.window_name(request.window)
        size = paging.page_size(request.page_size)
        if request.page_token:
            ranking_id, start = self._ranking_token(request.page_token)
        else:
            field, descending = self._order_by(request.order_by)
            candidates = await self._candidates(request)
            ranking_id, start = await self.analytics.rank(candidates, window, field, descending), 0
        trader_ids, more = await self.analytics.ranking_page(ranking_id, start, size)
        if start and not trader_ids:
            raise errors.invalid_argument("PAGE_TOKEN_EXPIRED", "this ranking is no longer kept; start from the "
                                          "first page", domain=profiles.DOMAIN, field="page_token")
        async with self.db.session() as session:
            rows = {r.trader_id: r for r in (await session.execute(select(MasterProfileRow).where(
                MasterProfileRow.trader_id.in_(trader_ids or [""])))).scalars()}
            total = (await session.execute(select(func.count()).select_from(RankingRow).where(
                RankingRow.ranking_id == ranking_id))).scalar_one()
        known = await self.analytics.stats_of(trader_ids, window)
        all_time = await self.analytics.stats_of(trader_ids, "ALL_TIME")
        traders = [self._with_stats(rows[t], window, known.get(t), all_time.get(t)) for t in trader_ids if t in rows]
        token = paging.encode_token([ranking_id, start + size]) if more else ""
        return pb.ListMasterTradersResponse(traders=traders, next_page_token=token, total_size=total)

    @staticmethod
    def _order_by(order_by: str) -> tuple[str | None, bool]:
        if not order_by.strip():
            return None, False
        parts = order_by.split()
        field, direction = parts[0], (parts[1].lower() if len(parts) > 1 else "desc")
        if field not in analytics.RANKABLE or direction not in ("asc", "desc") or len(parts) > 2:
            raise errors.invalid_argument(
                "INVALID_ORDER_BY", f"order_by is a statistic ({', '.join(sorted(analytics.RANKABLE))}) with an "
                "optional asc or desc", domain=profiles.DOMAIN, field="order_by")
        return field, direction == "desc"

    @staticmethod
    def _ranking_token(token: str) -> tuple[str, int]:
        ranking_id, start = paging.decode_token(token, (str, int))
        if start < 0:
            raise paging.invalid_token()
        return ranking_id, start

    async def _candidates(self, request: pb.ListMasterTradersRequest) -> list[MasterProfileRow]:
        query = select(MasterProfileRow).where(MasterProfileRow.public.is_(True))
        if request.strategy_type:
            query = query.where(MasterProfileRow.strategy_type == request.strategy_type)
        if request.risk_level:
            query = query.where(MasterProfileRow.risk_level == request.risk_level)
        async with self.db.session() as session:
            rows = list((await session.execute(query)).scalars().all())
        if request.venue_id:
            rows = [r for r in rows if any(v.get("id") == request.venue_id for v in r.venues)]
        if request.min_track_record_days > 0:
            records = await self.analytics.stats_of([r.trader_id for r in rows], "ALL_TIME")
            rows = [r for r in rows if r.trader_id in records
                    and records[r.trader_id].stats.get("track_record_days", 0) >= request.min_track_record_days]
        return rows

    @staticmethod
    def _with_stats(row: MasterProfileRow, window: str, window_stats, all_time) -> pb.MasterProfile:
        profile = profile_to_proto(row)
        profile.stats.CopyFrom(analytics.stats_to_proto(window, window_stats.stats if window_stats else None,
                                                        window_stats.update_time if window_stats else None))
        if all_time and all_time.stats.get("trade_count"):
            style = stats_module.observed_strategy(all_time.stats["average_holding_hours"],
                                                   all_time.stats["trades_per_day"])
            profile.observed_strategy_type = pb.StrategyType.Value(f"STRATEGY_TYPE_{style}")
        return profile

    async def GetPerformanceStats(self, request: pb.GetPerformanceStatsRequest, context):
        row = await self._public_profile(request.trader_id)
        window = analytics.window_name(request.window)
        found = (await self.analytics.stats_of([row.trader_id], window)).get(row.trader_id)
        return pb.GetPerformanceStatsResponse(stats=analytics.stats_to_proto(
            window, found.stats if found else None, found.update_time if found else None))

    async def GetMasterActivity(self, request: pb.GetMasterActivityRequest, context) -> pb.GetMasterActivityResponse:
        row = await self._public_profile(request.trader_id)
        if not 0 <= request.trade_limit <= MAX_ACTIVITY_TRADES:
            raise errors.invalid_argument("INVALID_TRADE_LIMIT", f"trade_limit is 1 to {MAX_ACTIVITY_TRADES}",
                                          domain=profiles.DOMAIN, field="trade_limit")
        async with self.db.session() as session:
            rows = (await session.execute(select(MasterFillRow).where(
                MasterFillRow.master_account_id.in_(row.master_account_ids or [""]))
                .order_by(MasterFillRow.execute_time, MasterFillRow.fill_id))).scalars().all()
        fills = [stats_module.Fill(r.symbol, r.side, r.quantity, r.price, r.fee, aware(r.execute_time), r.equity)
                 for r in rows]
        positions, closed = stats_module.activity(fills)
        response = pb.GetMasterActivityResponse(total_trades=len(rows))
        for p in positions:
            position = response.positions.add(
                symbol=p.symbol, quantity=str(p.quantity.normalize()), last_price=str(p.last_price),
                entry_price=str(p.entry_price.quantize(Decimal("0.00000001")).normalize()))
            position.open_time.FromDatetime(p.open_time)
        for r, fill, pnl in list(zip(rows, fills, closed))[::-1][:request.trade_limit or DEFAULT_ACTIVITY_TRADES]:
            trade = response.trades.add(
                trade_id=r.fill_id.rsplit(":", 1)[-1], symbol=fill.symbol, quantity=str(fill.quantity),
                price=str(fill.price), fee=stats_module.decimal_text(fill.fee, "0.00000001"),
                side=trading_pb2.SIDE_BUY if fill.side == "buy" else trading_pb2.SIDE_SELL,
                realized_pnl=stats_module.decimal_text(pnl, "0.00000001"))
            trade.time.FromDatetime(fill.time)
        return response

    async def PreviewCopy(self, request: pb.PreviewCopyRequest, context) -> pb.PreviewCopyResponse:
        row = await self._public_profile(request.trader_id)
        capital = validation.parse_decimal(request.capital, "capital", CAPITAL, reason="INVALID_PREVIEW",
                                           domain=profiles.DOMAIN)
        fee_rate = validation.parse_decimal(request.fee_rate, "fee_rate", validation.FRACTION, reason="INVALID_PREVIEW",
                                            domain=profiles.DOMAIN, default=DEFAULT_FEE_RATE)
        if not 0 <= request.latency_ms <= MAX_LATENCY_MS:
            raise errors.invalid_argument("INVALID_PREVIEW", f"latency_ms must be from 0 to {MAX_LATENCY_MS}",
                                          domain=profiles.DOMAIN, field="latency_ms")
        settings = copy_settings.validate(request.settings)  # the live copy path's own checks
        limits = risk_limits.validated(self.limits,
                                       risk_limits.changes_from_proto(request.limits, []))
        query = select(MasterFillRow).where(MasterFillRow.master_account_id.in_(row.master_account_ids or [""]))
        if request.HasField("start_time"):
            query = query.where(MasterFillRow.execute_time >= request.start_time.ToDatetime(tzinfo=UTC))
        if request.HasField("end_time"):
            query = query.where(MasterFillRow.execute_time < request.end_time.ToDatetime(tzinfo=UTC))
        async with self.db.session() as session:
            rows = (await session.execute(query.order_by(MasterFillRow.execute_time))).scalars().all()
        fills = [preview.MasterFill(r.fill_id, stats_module.Fill(r.symbol, r.side, r.quantity, r.price, r.fee,
                                                                 aware(r.execute_time), r.equity)) for r in rows]
        result = preview.replay(fills, capital=capital, settings=settings, limits=limits,
                                latency_ms=request.latency_ms, fee_rate=fee_rate)
        response = pb.PreviewCopyResponse(
            follower_return=stats_module.decimal_text(result.follower_return),
            master_return=stats_module.decimal_text(result.master_return),
            capture_gap=stats_module.decimal_text(result.capture_gap),
            trades_taken=sum(1 for s in result.steps if s.refusal is None),
            trades_refused=sum(1 for s in result.steps if s.refusal is not None))
        for moment, equity in result.equity_curve:
            point = response.follower_equity.add(equity=str(equity.quantize(Decimal("0.01"))))
            point.time.FromDatetime(moment)
        for step in result.steps:
            trade = response.trades.add(
                master_fill_id=step.fill_id, symbol=step.symbol, master_quantity=str(step.master_quantity),
                master_price=str(step.master_price), follower_quantity=str(step.follower_quantity),
                follower_price=str(step.follower_price.quantize(Decimal("0.00000001"))) if step.follower_price else "",
                side=trading_pb2.SIDE_BUY if step.side == "buy" else trading_pb2.SIDE_SELL)
            trade.time.FromDatetime(step.time)
            if step.refusal:
                reason, domain, message = step.refusal
                trade.refusal.CopyFrom(trading_pb2.Refusal(reason=reason, domain=domain, message=message))
        return response

    async def _check_accounts(self, user_id: str, account_ids) -> None:
        """Each listed account is one of `user_id`'s master accounts, as replication holds them."""
        found: dict[str, tuple[str, bool] | None] = {}
        for account_id in dict.fromkeys(account_ids):
            try:
                account = (await self.replication.GetVenueAccount(
                    rep.GetVenueAccountRequest(account_id=account_id), timeout=10)).account
                found[account_id] = (account.user_id, account.role == rep.ACCOUNT_ROLE_MASTER)
            except grpc.aio.AioRpcError as err:
                if err.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    raise errors.passed_on(err) from None
                found[account_id] = None
        profiles.check_accounts_owned(user_id, found)

    async def UpdateMasterProfile(self, request: pb.UpdateMasterProfileRequest, context):
        profiles.validate_profile(request.profile)
        async with self.db.session() as session:
            row = await session.get(MasterProfileRow, request.profile.trader_id) if request.profile.trader_id else None
            if row is None or not auth.require_caller().may_act_for(row.user_id):
                raise errors.not_found("TRADER_NOT_FOUND", "no such master trader", domain=profiles.DOMAIN,
                                       trader_id=request.profile.trader_id)
        await self._check_accounts(row.user_id, request.profile.master_account_ids)
        async with self.db.session() as session:
            row = await session.get(MasterProfileRow, request.profile.trader_id, with_for_update=self.db.is_postgres)
            if row is None:
                raise errors.not_found("TRADER_NOT_FOUND", "no such master trader", domain=profiles.DOMAIN,
                                       trader_id=request.profile.trader_id)
            row.display_name, row.bio = request.profile.display_name.strip(), request.profile.bio
            row.strategy_type, row.risk_level = request.profile.strategy_type, request.profile.risk_level
            row.venues = profiles.venues_to_json(request.profile.venues)
            row.master_account_ids = list(request.profile.master_account_ids)
            row.public, row.update_time = request.profile.public, datetime.now(UTC)
        await self.analytics.refresh(row)  # the accounts shown may have changed
        await audit.record(self.audit, "master_profile.updated", f"master_profiles/{row.trader_id}", row.user_id,
                           public=row.public, accounts=row.master_account_ids)
        return pb.UpdateMasterProfileResponse(profile=profile_to_proto(row))

    async def _public_profile(self, trader_id: str) -> MasterProfileRow:
        async with self.db.session() as session:
            row = await session.get(MasterProfileRow, trader_id)
        if row is None or not (row.public or auth.require_caller().may_act_for(row.user_id)):
            raise errors.not_found("TRADER_NOT_FOUND", "no such master trader", domain=profiles.DOMAIN,
                                   trader_id=trader_id)
        return row

    async def FollowTrader(self, request: pb.FollowTraderRequest, context) -> pb.FollowTraderResponse:
        caller = auth.require_caller()
        follower_id = request.follower_id or caller.user_id
        auth.require_user(follower_id)
        row = await self._public_profile(request.trader_id)
        master_account_id = request.master_account_id or next(iter(row.master_account_ids), "")
        if master_account_id not in row.master_account_ids:
            raise errors.invalid_argument("NOT_THIS_TRADERS_ACCOUNT", "that account is not one of this trader's",
                                          domain=profiles.DOMAIN, field="master_account_id")
        # Replication checks the follower's account, compliance eligibility and the settings; its
        # refusal reaches the caller unchanged (status and ErrorInfo).
        try:
            reply = await self.replication.StartCopySession(rep.StartCopySessionRequest(
                follower_id=follower_id, follower_account_id=request.follower_account_id,
                master_account_id=master_account_id, settings=request.settings, request_id=request.request_id),
                timeout=10)
        except grpc.aio.AioRpcError as err:
            raise errors.passed_on(err) from None
        await self.analytics.refresh(row)  # one more follower
        return pb.FollowTraderResponse(session=reply.session)

    async def UnfollowTrader(self, request: pb.UnfollowTraderRequest, context) -> pb.UnfollowTraderResponse:
        caller = auth.require_caller()
        follower_id = request.follower_id or caller.user_id
        auth.require_user(follower_id)
        row = await self._public_profile(request.trader_id)
        sessions = (await self.replication.ListCopySessions(
            rep.ListCopySessionsRequest(follower_id=follower_id, page_size=500), timeout=10)).sessions
        stopped = []
        for session in sessions:
            live = session.state in (rep.SESSION_STATE_ACTIVE, rep.SESSION_STATE_PAUSED, rep.SESSION_STATE_FROZEN)
            if session.master_account_id in row.master_account_ids and live:
                await self.replication.StopCopySession(rep.StopCopySessionRequest(
                    config_id=session.config_id, reason="unfollowed"), timeout=10)
                stopped.append(session.config_id)
        if stopped:
            await self.analytics.refresh(row)
        return pb.UnfollowTraderResponse(config_ids=stopped)

    async def CreateMasterProfile(self, request: pb.CreateMasterProfileRequest, context) -> pb.CreateMasterProfileResponse:
        caller = auth.require_role(auth.ROLE_MASTER)
        user_id = request.profile.user_id or caller.user_id
        auth.require_user(user_id)
        profiles.validate_profile(request.profile)
        await self._check_accounts(user_id, request.profile.master_account_ids)
        now = datetime.now(UTC)
        row = MasterProfileRow(
            trader_id=f"trd_{uuid.uuid4().hex[:20]}", user_id=user_id, display_name=request.profile.display_name.strip(),
            strategy_type=request.profile.strategy_type, risk_level=request.profile.risk_level,
            bio=request.profile.bio, venues=profiles.venues_to_json(request.profile.venues),
            master_account_ids=list(request.profile.master_account_ids), public=request.profile.public,
            create_time=now, update_time=now)
        try:
            async with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            # One profile per master; a retried create (request_id) returns it.
            async with self.db.session() as session:
                existing = (await session.execute(
                    select(MasterProfileRow).where(MasterProfileRow.user_id == user_id))).scalar_one()
            if request.request_id:
                return pb.CreateMasterProfileResponse(profile=profile_to_proto(existing))
            raise errors.already_exists("PROFILE_EXISTS", "this master already has a profile",
                                        domain=profiles.DOMAIN, trader_id=existing.trader_id) from None
        await self.analytics.refresh(row)  # fills seen before the profile existed count too
        await audit.record(self.audit, "master_profile.created", f"master_profiles/{row.trader_id}", row.user_id,
                           public=row.public, accounts=row.master_account_ids)
        return pb.CreateMasterProfileResponse(profile=profile_to_proto(row))

    async def GetMasterProfile(self, request: pb.GetMasterProfileRequest, context) -> pb.GetMasterProfileResponse:
        row = await self._public_profile(request.trader_id)
        window = analytics.window_name(request.window)
        known = await self.analytics.stats_of([row.trader_id], window)
        all_time = await self.analytics.stats_of([row.trader_id], "ALL_TIME")
        return pb.GetMasterProfileResponse(profile=self._with_stats(
            row, window, known.get(row.trader_id), all_time.get(row.trader_id)))
