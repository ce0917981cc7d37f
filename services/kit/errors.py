"""Domain errors and their wire form: google.rpc.Status with exactly one google.rpc.ErrorInfo.

Servicers and domain code raise `DomainError`; the server interceptor turns it into a gRPC
status whose details clients (and the gateway) can read without parsing messages.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from copytrade.type.v1 import trading_pb2


class DomainError(Exception):
    """An expected refusal: a gRPC code, an UPPER_SNAKE reason and the numbers behind it."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        *,
        domain: str = "copytrade",
        metadata: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.metadata = {k: str(v) for k, v in (metadata or {}).items()}

    def to_status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=self.domain, metadata=self.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=[detail])
        return rpc_status.to_status(status)

    def to_refusal(self) -> trading_pb2.Refusal:
        return trading_pb2.Refusal(reason=self.reason, domain=self.domain, message=self.message, metadata=self.metadata)

    def __repr__(self) -> str:
        return f"DomainError({self.code.name}, {self.reason!r}, {self.message!r})"


def _factory(code: grpc.StatusCode):
    def make(reason: str, message: str, *, domain: str = "copytrade", **metadata: object) -> DomainError:
        return DomainError(code, reason, message, domain=domain, metadata=metadata)

    make.__name__ = code.name.lower()
    return make


invalid_argument = _factory(grpc.StatusCode.INVALID_ARGUMENT)
not_found = _factory(grpc.StatusCode.NOT_FOUND)
already_exists = _factory(grpc.StatusCode.ALREADY_EXISTS)
permission_denied = _factory(grpc.StatusCode.PERMISSION_DENIED)
unauthenticated = _factory(grpc.StatusCode.UNAUTHENTICATED)
failed_precondition = _factory(grpc.StatusCode.FAILED_PRECONDITION)
resource_exhausted = _factory(grpc.StatusCode.RESOURCE_EXHAUSTED)
aborted = _factory(grpc.StatusCode.ABORTED)
unavailable = _factory(grpc.StatusCode.UNAVAILABLE)


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo a failed call carries, if any (for clients and the gateway).

    Works for grpc.aio.AioRpcError too, whose metadata accessors are synchronous."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


def passed_on(err: grpc.RpcError) -> DomainError:
    """Another service's refusal, to raise unchanged to our own caller (code, reason, numbers)."""
    info = error_info(err)
    if info is None:
        return DomainError(err.code(), "UPSTREAM_ERROR", err.details() or err.code().name)
    return DomainError(err.code(), info.reason, err.details() or "", domain=info.domain, metadata=dict(info.metadata))
