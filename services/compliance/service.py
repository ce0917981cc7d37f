"""ComplianceService over gRPC: thin; the rules live in identity.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1 import compliance_service_pb2_grpc as pb_grpc
from services.compliance import identity
from services.compliance.store import UserRow
from services.kit import auth, errors
from services.kit.config import Settings
from services.kit.db import Database


def user_to_proto(row: UserRow) -> pb.User:
    user = pb.User(user_id=row.user_id, email=row.email, display_name=row.display_name,
                   roles=[identity.ROLE_VALUES[r] for r in row.roles])
    user.create_time.FromDatetime(row.create_time)
    return user


class ComplianceServicer(pb_grpc.ComplianceServiceServicer):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def RegisterUser(self, request: pb.RegisterUserRequest, context) -> pb.RegisterUserResponse:
        email = identity.normalise_email(request.email)
        identity.check_password_strength(request.password)
        roles = identity.self_assigned_roles(list(request.roles))
        password_hash = await asyncio.to_thread(identity.hash_password, request.password)  # ~50 ms of CPU
        row = UserRow(user_id=f"usr_{uuid.uuid4().hex[:20]}", email=email,
                      display_name=request.display_name.strip() or email.split("@")[0],
                      password_hash=password_hash, roles=roles, create_time=datetime.now(UTC))
        try:
            async with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            raise errors.already_exists("EMAIL_TAKEN", "an account with this email exists",
                                        domain=identity.DOMAIN, field="email") from None
        return pb.RegisterUserResponse(user=user_to_proto(row))

    async def Login(self, request: pb.LoginRequest, context) -> pb.LoginResponse:
        email = request.email.strip().lower()
        async with self.db.session() as session:
            row = (await session.execute(select(UserRow).where(UserRow.email == email))).scalar_one_or_none()
        stored = row.password_hash if row else identity.DUMMY_HASH
        matches = await asyncio.to_thread(identity.password_matches, stored, request.password)
        if row is None or not matches:
            raise errors.unauthenticated("INVALID_CREDENTIALS", "email or password is wrong", domain=identity.DOMAIN)
        token, expires = auth.issue_token(self.settings.jwt_secret, row.user_id, row.roles)
        response = pb.LoginResponse(access_token=token, user=user_to_proto(row))
        response.expire_time.FromSeconds(expires)
        return response

    async def GetUser(self, request: pb.GetUserRequest, context) -> pb.GetUserResponse:
        auth.require_user(request.user_id)
        async with self.db.session() as session:
            row = await session.get(UserRow, request.user_id)
        if row is None:
            raise errors.not_found("USER_NOT_FOUND", "no such user", domain=identity.DOMAIN, user_id=request.user_id)
        return pb.GetUserResponse(user=user_to_proto(row))
