"""Why a copytrade call failed, as a program can tell: every service refuses with a
google.rpc.Status whose details hold one google.rpc.ErrorInfo — a `reason` in UPPER_SNAKE
(`INVALID_LIMIT`, `NOT_OWNER`, `RISK_LIMIT_EXCEEDED`), a stable `domain` (`risk.copytrade`,
`auth.copytrade`) and the numbers behind it in `metadata` (`{"field": "max_drawdown"}`).

    try:
        await stub.UpdateRiskLimits(request, metadata=auth)
    except grpc.aio.AioRpcError as err:
        info = error_info(err)
        if info is not None and info.reason == "INVALID_LIMIT":
            print(info.metadata["field"], err.details())

Written by hand (tools/codegen.py keeps it when it regenerates the package beside it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

# The trailing metadata entry gRPC carries a rich status in (a serialized google.rpc.Status).
STATUS_DETAILS_KEY = "grpc-status-details-bin"

__all__ = ["STATUS_DETAILS_KEY", "ErrorInfo", "error_info"]


@dataclass(frozen=True)
class ErrorInfo:
    """google.rpc.ErrorInfo, decoded."""

    reason: str  # UPPER_SNAKE, stable: match on it
    domain: str  # who decided it, e.g. "risk.copytrade"
    metadata: Mapping[str, str] = field(default_factory=dict)  # the numbers behind it


def error_info(err: grpc.RpcError) -> ErrorInfo | None:
    """The ErrorInfo among a failed call's status details; None if it carries none.

    Takes what either API raises: grpc.aio.AioRpcError and the blocking stubs' grpc.RpcError
    (both also answer trailing_metadata(), which holds the status)."""
    trailing: Iterable[tuple[str, Any]] = getattr(err, "trailing_metadata", lambda: None)() or ()
    for key, value in trailing:
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return ErrorInfo(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
    return None
