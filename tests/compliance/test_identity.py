"""Register and log in over gRPC: tokens that every service accepts, and clear refusals."""

import uuid

import grpc
import pytest

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from services.kit.errors import error_info

PASSWORD = "correct horse battery staple"


def email() -> str:
    return f"{uuid.uuid4().hex[:8]}@example.com"


async def test_login_token_is_accepted_by_other_services(start_service, backend):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    risk = RiskServiceStub((await start_service("risk")).channel)
    address = email()
    user = (await compliance.RegisterUser(pb.RegisterUserRequest(email=address, password=PASSWORD,
                                                                 roles=[pb.ROLE_MASTER]))).user
    assert list(user.roles) == [pb.ROLE_MASTER]
    login = await compliance.Login(pb.LoginRequest(email=address.upper(), password=PASSWORD))
    assert login.user.user_id == user.user_id and login.expire_time.seconds > 0
    metadata = (("authorization", f"Bearer {login.access_token}"),)
    me = await compliance.GetUser(pb.GetUserRequest(user_id=user.user_id), metadata=metadata)
    assert me.user.email == address
    limits = await risk.GetRiskLimits(risk_pb.GetRiskLimitsRequest(user_id=user.user_id), metadata=metadata)
    assert limits.is_default


async def test_wrong_password_and_unknown_email_are_refused_alike(start_service):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    address = email()
    await compliance.RegisterUser(pb.RegisterUserRequest(email=address, password=PASSWORD))
    for attempt in (pb.LoginRequest(email=address, password=PASSWORD + "x"),
                    pb.LoginRequest(email=email(), password=PASSWORD)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await compliance.Login(attempt)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err.value).reason == "INVALID_CREDENTIALS"


@pytest.mark.parametrize("request_fields,code,reason", [
    ({"email": "not-an-email", "password": PASSWORD}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_EMAIL"),
    ({"email": "short@example.com", "password": "short"}, grpc.StatusCode.INVALID_ARGUMENT, "WEAK_PASSWORD"),
    ({"email": "op@example.com", "password": PASSWORD, "roles": [pb.ROLE_OPERATOR]},
     grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_SELF_ASSIGNABLE"),
])
async def test_bad_registrations_are_refused_with_a_reason(start_service, request_fields, code, reason):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.RegisterUser(pb.RegisterUserRequest(**request_fields))
    assert err.value.code() == code and error_info(err.value).reason == reason


async def test_an_email_registers_once_and_users_see_only_themselves(start_service, token_for):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    address = email()
    first = (await compliance.RegisterUser(pb.RegisterUserRequest(email=address, password=PASSWORD))).user
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.RegisterUser(pb.RegisterUserRequest(email=address, password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.GetUser(pb.GetUserRequest(user_id=first.user_id), metadata=token_for("someone-else"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_operators_grant_roles_and_users_cannot(start_service, token_for):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    user = (await compliance.RegisterUser(pb.RegisterUserRequest(email=email(), password=PASSWORD))).user
    request = pb.SetUserRolesRequest(user_id=user.user_id, roles=[pb.ROLE_FOLLOWER, pb.ROLE_MASTER])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.SetUserRoles(request, metadata=token_for(user.user_id))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    granted = (await compliance.SetUserRoles(request, metadata=token_for("op-1", "operator"))).user
    assert list(granted.roles) == [pb.ROLE_FOLLOWER, pb.ROLE_MASTER]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.SetUserRoles(pb.SetUserRolesRequest(user_id=user.user_id),
                                      metadata=token_for("op-1", "operator"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and error_info(err.value).reason == "INVALID_ROLE"
