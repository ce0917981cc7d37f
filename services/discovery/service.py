"""DiscoveryService over gRPC: thin; rules live in the domain modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.discovery.v1 import discovery_service_pb2_grpc as pb_grpc
from services.discovery import profiles
from services.discovery.store import MasterProfileRow
from services.kit import auth, errors
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
    def __init__(self, db: Database) -> None:
        self.db = db

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
