"""RiskService over gRPC: thin; the rules live in limits.py."""

from __future__ import annotations

from datetime import UTC, datetime

from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1 import risk_service_pb2_grpc as pb_grpc
from services.kit import auth
from services.kit.db import Database
from services.risk import limits as risk_limits
from services.risk.store import RiskLimitsRow


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, db: Database, defaults: risk_limits.RiskLimits) -> None:
        self.db = db
        self.defaults = defaults

    async def _limits(self, user_id: str) -> tuple[risk_limits.RiskLimits, RiskLimitsRow | None]:
        async with self.db.session() as session:
            row = await session.get(RiskLimitsRow, user_id)
        if row is None:
            return self.defaults, None
        return risk_limits.validated(self.defaults, row.limits), row

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
            current = risk_limits.validated(self.defaults, row.limits) if row else self.defaults
            updated = risk_limits.validated(current, changes)
            stored = {k: v for k, v in risk_limits.to_row(updated).items()
                      if v != risk_limits.to_row(self.defaults)[k]}
            if row is None:
                row = RiskLimitsRow(user_id=request.user_id, limits=stored, updated_by=caller.subject,
                                    update_time=now)
                session.add(row)
            else:
                row.limits, row.updated_by, row.update_time = stored, caller.subject, now
        response = pb.UpdateRiskLimitsResponse(limits=risk_limits.to_proto(updated))
        response.update_time.FromDatetime(now)
        return response
