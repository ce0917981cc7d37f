"""DiscoveryService over gRPC: thin; rules live in the domain modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.discovery.v1 import discovery_service_pb2_grpc as pb_grpc
from services.discovery import profiles
from services.discovery.store import MasterProfileRow
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from services.kit import auth, errors, paging
from services.kit.db import Database


def profile_to_proto(row: MasterProfileRow) -> pb.MasterProfile:
    profile = pb.MasterProfile(
        trader_id=row.trader_id, user_id=row.user_id, display_name=row.display_name,
        strategy_type=row.strategy_type, risk_level=row.risk_level, bio=row.bio,
        venues=profiles.venues_from_json(row.venues), master_account_ids=row.master_account_ids, public=row.public)
    profile.create_time.FromDatetime(row.create_time)
    profile.update_time.FromDatetime(row.update_time)
    return profile


class DiscoveryServicer(pb_grpc.DiscoveryServiceServicer):
    def __init__(self, db: Database, replication: ReplicationServiceStub) -> None:
        self.db = db
        self.replication = replication

    async def ListMasterTraders(self, request: pb.ListMasterTradersRequest, context) -> pb.ListMasterTradersResponse:
        auth.require_caller()
        if request.order_by:  # ranking by statistics arrives with the statistics (#7)
            raise errors.invalid_argument("ORDER_BY_UNSUPPORTED", "ordering by statistics is not available yet",
                                          domain=profiles.DOMAIN, field="order_by")
        query = select(MasterProfileRow).where(MasterProfileRow.public.is_(True))
        if request.strategy_type:
            query = query.where(MasterProfileRow.strategy_type == request.strategy_type)
        if request.risk_level:
            query = query.where(MasterProfileRow.risk_level == request.risk_level)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, MasterProfileRow.trader_id, request.page_size,
                                                   request.page_token)
        if request.venue_id:  # venues are a JSON list: filtered here, on the page
            rows = [r for r in rows if any(v.get("id") == request.venue_id for v in r.venues)]
        return pb.ListMasterTradersResponse(traders=[profile_to_proto(r) for r in rows], next_page_token=token)

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
        return pb.UnfollowTraderResponse(config_ids=stopped)

    async def CreateMasterProfile(self, request: pb.CreateMasterProfileRequest, context) -> pb.CreateMasterProfileResponse:
        caller = auth.require_role(auth.ROLE_MASTER)
        user_id = request.profile.user_id or caller.user_id
        auth.require_user(user_id)
        profiles.validate_profile(request.profile)
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
        return pb.CreateMasterProfileResponse(profile=profile_to_proto(row))

    async def GetMasterProfile(self, request: pb.GetMasterProfileRequest, context) -> pb.GetMasterProfileResponse:
        caller = auth.require_caller()
        async with self.db.session() as session:
            row = await session.get(MasterProfileRow, request.trader_id)
        if row is None or not (row.public or caller.may_act_for(row.user_id)):
            raise errors.not_found("TRADER_NOT_FOUND", "no such master trader", domain=profiles.DOMAIN,
                                   trader_id=request.trader_id)
        return pb.GetMasterProfileResponse(profile=profile_to_proto(row))
