"""Logins are throttled before the password is checked, per account and per address, on gRPC
and REST alike, and passwords follow NIST 800-63B (a length range, not blank, not common)."""

import uuid

import grpc
import pytest

from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from services.kit.errors import error_info
from services.kit.testing import eventually

PASSWORD = "correct horse battery staple"


def email() -> str:
    return f"{uuid.uuid4().hex[:8]}@example.com"


async def _login(compliance, address: str, password: str) -> str:
    """The refusal's reason, or "OK"."""
    try:
        await compliance.Login(pb.LoginRequest(email=address, password=password))
    except grpc.aio.AioRpcError as err:
        return error_info(err).reason
    return "OK"


async def test_an_account_is_locked_after_five_failures_even_for_the_right_password(start_service, backend):
    # A back-off of 5 s: long enough for five slow logins on a busy machine.
    compliance = ComplianceServiceStub((await start_service("compliance", login_backoff_base_s=5.0)).channel)
    address = email()
    await compliance.RegisterUser(pb.RegisterUserRequest(email=address, password=PASSWORD))
    assert [await _login(compliance, address, "a wrong guess #%d" % i) for i in range(5)] == \
        ["INVALID_CREDENTIALS"] * 5
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.Login(pb.LoginRequest(email=address, password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(err.value)
    assert info.reason == "LOGIN_THROTTLED" and int(info.metadata["retry_after_seconds"]) >= 1
    # Once the back-off has passed the right password works, and the count starts over.
    assert await eventually(lambda: _when_ok(compliance, address), timeout=30, interval=0.5)
    assert await _login(compliance, address, "another wrong guess") == "INVALID_CREDENTIALS"


async def _when_ok(compliance, address):
    return await _login(compliance, address, PASSWORD) == "OK"


async def test_one_address_guessing_many_accounts_is_throttled(start_service):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    victim = email()
    await compliance.RegisterUser(pb.RegisterUserRequest(email=victim, password=PASSWORD))
    reasons = [await _login(compliance, email(), "spray and pray 2024") for _ in range(20)]
    assert reasons == ["INVALID_CREDENTIALS"] * 20
    assert await _login(compliance, victim, PASSWORD) == "LOGIN_THROTTLED"


async def test_rest_logins_are_throttled_and_so_are_bad_credentials(start_service):
    import aiohttp

    started = {name: await start_service(name) for name in ("compliance", "risk", "replication")}
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0",
                                  rate_limit_per_s=0.5, rate_limit_burst=8)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        address = email()
        compliance = ComplianceServiceStub(started["compliance"].channel)
        await compliance.RegisterUser(pb.RegisterUserRequest(email=address, password=PASSWORD))
        for _ in range(5):
            await _login(compliance, address, "not it at all 99")
        reply = await http.post("/v1/auth:login", json={"email": address, "password": PASSWORD},
                                headers={"X-Forwarded-For": "203.0.113.9"})
        assert reply.status == 429 and (await reply.json())["details"][0]["reason"] == "LOGIN_THROTTLED"
        # A bad token is counted against the caller's rate like any other request (one of the
        # eight in the burst went on the login above).
        statuses = [(await http.get("/v1/venue-accounts", headers={"Authorization": "Bearer nope"})).status
                    for _ in range(8)]
        assert statuses[:7] == [401] * 7 and statuses[7] == 429


@pytest.mark.parametrize("password,problem", [
    ("aaaaaaaaaaaa", "COMMON_OR_PREDICTABLE"),
    ("password1234", "COMMON_OR_PREDICTABLE"),
    ("qwertyuiop12", "COMMON_OR_PREDICTABLE"),
    (" " * 12, None),
    ("x" * 900_000, None),
    ("{local}@", "COMMON_OR_PREDICTABLE"),  # the user's own email
])
async def test_weak_passwords_are_refused(start_service, password, problem):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    local = f"wally.smith.{uuid.uuid4().hex[:4]}"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await compliance.RegisterUser(pb.RegisterUserRequest(email=f"{local}@example.com", display_name="Wally Smith",
                                                             password=password.replace("{local}", local)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(err.value)
    assert info.reason == "WEAK_PASSWORD" and info.metadata["max_length"] == "128"
    if problem:
        assert info.metadata["problem"] == problem


async def test_long_passphrases_of_any_characters_are_welcome(start_service):
    compliance = ComplianceServiceStub((await start_service("compliance")).channel)
    for password in (PASSWORD, "tôi yêu cà phê sữa đá mỗi sáng", "x7!Qz" + "#" * 2 + "pL9&mW2$"):
        reply = await compliance.RegisterUser(pb.RegisterUserRequest(email=email(), password=password))
        assert reply.user.user_id
