"""GatewayService over gRPC: partner API keys over the gateway's own table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc

from sqlalchemy import select, update

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.gateway.v1 import gateway_service_pb2 as pb
from copytrade.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.gateway import api_keys
from services.gateway.store import ApiKeyRow
from services.kit import audit, auth, errors, paging
from services.kit.db import Database


def key_to_proto(row: ApiKeyRow) -> pb.ApiKey:
    key = pb.ApiKey(key_id=row.key_id, user_id=row.user_id, name=row.name, scopes=row.scopes,
                    prefix=f"{api_keys.PREFIX}{row.key_id}")
    key.create_time.FromDatetime(row.create_time)
    for field, value in (("expire_time", row.expire_time), ("revoke_time", row.revoke_time),
                         ("last_use_time", row.last_use_time)):
        if value is not None:
            getattr(key, field).FromDatetime(value)
    return key


async def revoke_all(db: Database, user_id: str) -> int:
    """Every live key of `user_id` revoked (their account was erased); how many."""
    async with db.session() as session:
        result = await session.execute(update(ApiKeyRow).where(
            ApiKeyRow.user_id == user_id, ApiKeyRow.revoke_time.is_(None)).values(revoke_time=datetime.now(UTC)))
    return result.rowcount


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(self, db: Database, replication: ReplicationServiceStub | None = None,
                 risk: RiskServiceStub | None = None, audit: ComplianceInternalServiceStub | None = None) -> None:
        self.db = db
        self.replication, self.risk, self.audit = replication, risk, audit

    async def _audited(self, action: str, row: ApiKeyRow) -> None:
        await audit.record(self.audit, action, f"api_keys/{row.key_id}", row.user_id, event_id=f"{action}:{row.key_id}",
                           name=row.name, scopes=row.scopes)

    async def GetFollowerDashboard(self, request: pb.GetFollowerDashboardRequest, context):
        caller = auth.require_caller()
        follower_id = request.follower_id or caller.user_id
        auth.require_user(follower_id)
        if not 0 <= request.recent_limit <= 100:
            raise errors.invalid_argument("INVALID_LIMIT", "recent_limit is between 1 and 100 (0: 20)",
                                          domain=api_keys.DOMAIN, field="recent_limit")
        # The services decide again, as the caller: the caller's own credential goes with each call.
        metadata = tuple((k, v) for k, v in context.invocation_metadata() if k in ("authorization", "x-request-id"))
        try:
            sessions, state, limits, orders = await asyncio.gather(
                self.replication.ListCopySessions(rep.ListCopySessionsRequest(follower_id=follower_id, page_size=100),
                                                  metadata=metadata, timeout=5),
                self.risk.GetTradingState(risk_pb.GetTradingStateRequest(
                    scope=risk_pb.TradingScope(user_id=follower_id)), metadata=metadata, timeout=5),
                self.risk.GetRiskLimits(risk_pb.GetRiskLimitsRequest(user_id=follower_id), metadata=metadata,
                                        timeout=5),
                self.replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(
                    follower_id=follower_id, page_size=request.recent_limit or 20), metadata=metadata, timeout=5))
        except grpc.aio.AioRpcError as err:
            raise errors.passed_on(err) from None
        return pb.GetFollowerDashboardResponse(sessions=sessions.sessions, trading_state=state, limits=limits.limits,
                                               recent_orders=orders.orders)

    async def CreateApiKey(self, request: pb.CreateApiKeyRequest, context) -> pb.CreateApiKeyResponse:
        caller = auth.require_caller()
        if not caller.user_id:
            raise errors.permission_denied("USER_REQUIRED", "API keys belong to users", domain=api_keys.DOMAIN)
        if caller.scopes:
            raise errors.permission_denied("LOGIN_REQUIRED", "an API key cannot issue API keys; log in",
                                           domain=api_keys.DOMAIN)
        scopes = api_keys.validate_scopes(list(request.scopes))
        if not request.name.strip():
            raise errors.invalid_argument("INVALID_NAME", "name is required", domain=api_keys.DOMAIN, field="name")
        now = datetime.now(UTC)
        expires = request.expire_time.ToDatetime(tzinfo=UTC) if request.HasField("expire_time") else None
        if expires is not None and expires <= now:
            raise errors.invalid_argument("INVALID_EXPIRY", "expire_time must be in the future",
                                          domain=api_keys.DOMAIN, field="expire_time")
        key = api_keys.new_key()
        row = ApiKeyRow(key_id=key.key_id, user_id=caller.user_id, name=request.name.strip(), scopes=scopes,
                        secret_hash=key.secret_hash, create_time=now, expire_time=expires)
        async with self.db.session() as session:
            session.add(row)
        await self._audited("api_key.created", row)
        return pb.CreateApiKeyResponse(api_key=key_to_proto(row), secret=key.full_key)

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context) -> pb.ListApiKeysResponse:
        caller = auth.require_caller()
        query = select(ApiKeyRow).where(ApiKeyRow.user_id == caller.user_id)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, ApiKeyRow.key_id, request.page_size,
                                                   request.page_token)
        return pb.ListApiKeysResponse(api_keys=[key_to_proto(r) for r in rows], next_page_token=token)

    async def RevokeApiKey(self, request: pb.RevokeApiKeyRequest, context) -> pb.RevokeApiKeyResponse:
        caller = auth.require_caller()
        async with self.db.session() as session:
            row = await session.get(ApiKeyRow, request.key_id, with_for_update=True)
            if row is None or not caller.may_act_for(row.user_id):
                raise errors.not_found("API_KEY_NOT_FOUND", "no such API key", domain=api_keys.DOMAIN,
                                       key_id=request.key_id)
            revoked = row.revoke_time is None
            if revoked:
                row.revoke_time = datetime.now(UTC)
        if revoked:
            await self._audited("api_key.revoked", row)
        return pb.RevokeApiKeyResponse(api_key=key_to_proto(row))
