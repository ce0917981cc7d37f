"""Risk limits over gRPC, on SQLite and PostgreSQL: defaults, updates, ownership, bad input."""

import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2

from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.errors import error_info


def new_user() -> str:
    return f"u_{uuid.uuid4().hex[:10]}"


async def test_defaults_are_the_products(start_service, backend, token_for):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = new_user()
    reply = await risk.GetRiskLimits(pb.GetRiskLimitsRequest(user_id=user), metadata=token_for(user))
    assert reply.is_default
    assert (reply.limits.max_daily_loss, reply.limits.max_drawdown, reply.limits.max_position_size) == (
        "1000", "0.15", "5000")
    assert reply.limits.max_leverage == "10" and reply.limits.max_latency_ms == 100
    assert reply.limits.circuit_breaker_enabled and reply.limits.stop_loss_enabled


async def test_update_changes_only_masked_fields_and_persists(start_service, backend, token_for):
    svc = await start_service("risk")
    risk = RiskServiceStub(svc.channel)
    user = new_user()
    await risk.UpdateRiskLimits(
        pb.UpdateRiskLimitsRequest(user_id=user, limits=pb.RiskLimits(max_daily_loss="250.50", max_leverage="99"),
                                   update_mask=field_mask_pb2.FieldMask(paths=["max_daily_loss"])),
        metadata=token_for(user))
    reply = await risk.GetRiskLimits(pb.GetRiskLimitsRequest(user_id=user), metadata=token_for(user))
    assert not reply.is_default
    assert reply.limits.max_daily_loss == "250.50"
    assert reply.limits.max_leverage == "10"  # not in the mask: unchanged


async def test_another_user_cannot_read_or_change_limits(start_service, token_for):
    risk = RiskServiceStub((await start_service("risk")).channel)
    owner, intruder = new_user(), new_user()
    with pytest.raises(grpc.aio.AioRpcError) as read:
        await risk.GetRiskLimits(pb.GetRiskLimitsRequest(user_id=owner), metadata=token_for(intruder))
    assert read.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(read.value).reason == "NOT_OWNER"
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await risk.GetRiskLimits(pb.GetRiskLimitsRequest(user_id=owner))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("field,value", [("max_drawdown", "1.5"), ("max_daily_loss", "-3"),
                                         ("max_daily_loss", "lots"), ("timezone", "Mars/Olympus")])
async def test_bad_limit_is_refused_naming_the_field(start_service, token_for, field, value):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = new_user()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await risk.UpdateRiskLimits(
            pb.UpdateRiskLimitsRequest(user_id=user, limits=pb.RiskLimits(**{field: value}),
                                       update_mask=field_mask_pb2.FieldMask(paths=[field])),
            metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(err.value)
    assert info.reason == "INVALID_LIMIT" and info.metadata["field"] == field
    reply = await risk.GetRiskLimits(pb.GetRiskLimitsRequest(user_id=user), metadata=token_for(user))
    assert reply.is_default  # nothing was stored
