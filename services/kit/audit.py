"""Recording a person's action in compliance's audit trail, from any service. The action has
happened when this is called; a failure to record it is logged (never the details' secrets:
callers pass none) rather than undoing the action."""

from __future__ import annotations

import json
import logging

import grpc

from copytrade.compliance.v1 import compliance_internal_service_pb2 as audit_pb
from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from services.kit import auth

log = logging.getLogger("copytrade.audit")


async def record(stub: ComplianceInternalServiceStub | None, action: str, resource: str, subject_user_id: str, *,
                 event_id: str = "", **details) -> None:
    if stub is None:
        return
    try:
        await stub.RecordAuditEvent(audit_pb.RecordAuditEventRequest(
            actor=auth.current().subject, action=action, resource=resource, subject_user_id=subject_user_id,
            details_json=json.dumps(details, sort_keys=True, default=str), event_id=event_id), timeout=5)
    except grpc.aio.AioRpcError as exc:
        log.error("audit of %s on %s not recorded: %s", action, resource, exc.code().name)
