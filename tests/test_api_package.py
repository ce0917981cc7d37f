"""Partners install just the generated stubs: the copytrade-api wheel builds and works alone."""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from copytrade.compliance.v1 import compliance_service_pb2 as compliance_pb
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from services.kit import clients, tls
from tests.test_tls import certs, over_tls, tls_nats  # noqa: F401 - the mutual-TLS mesh's fixtures

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def api_wheel(tmp_path_factory) -> Path:
    """The copytrade-api wheel, built from a copy (setuptools leaves build/ beside the sources)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT / "api" / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist"), str(source)], check=True)
    return next((tmp / "dist").glob("copytrade_api-*.whl"))


@pytest.fixture(scope="module")
def installed_api(api_wheel, tmp_path_factory) -> Path:
    """The wheel installed on its own into a folder, as a partner's site-packages holds it."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(api_wheel)], check=True)
    return target


def test_api_wheel_holds_the_stubs_and_imports_on_its_own(api_wheel, installed_api, tmp_path):
    names = set(zipfile.ZipFile(api_wheel).namelist())
    for service in ("discovery", "replication", "risk", "compliance", "gateway"):
        assert f"copytrade/{service}/v1/{service}_service_pb2_grpc.py" in names
        assert f"copytrade/{service}/v1/{service}_service_pb2.pyi" in names
    assert "copytrade/type/v1/trading_pb2.py" in names
    assert "copytrade/descriptor_set.binpb" in names  # reflection and OpenAPI read the comments there
    assert not any(n.startswith(("services/", "venue_sim/")) for n in names)

    target = installed_api
    probe = ("import copytrade, copytrade.risk.v1.risk_service_pb2_grpc as g;"
             "from copytrade.risk.v1 import risk_service_pb2 as pb;"
             "print(copytrade.__file__); print(pb.GetRiskLimitsRequest(user_id='u').user_id);"
             "print(hasattr(g, 'RiskServiceStub'))")
    out = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(target)}, check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout.split()
    assert out[0].startswith(str(target))  # the wheel's copy, not the repository's
    assert out[1:] == ["u", "True"]


def test_every_generated_module_has_its_type_stub_in_the_wheel(api_wheel):
    names = set(zipfile.ZipFile(api_wheel).namelist())
    modules = sorted(n for n in names if n.endswith(("_pb2.py", "_pb2_grpc.py")))
    assert len([m for m in modules if m.endswith("_pb2_grpc.py")]) >= 14
    assert [m for m in modules if m[:-3] + ".pyi" not in names] == []
    assert "copytrade/py.typed" in names


PARTNER = """\
import grpc
from copytrade.errors import error_info
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub


async def limits(channel: grpc.aio.Channel) -> str:
    reply = await RiskServiceStub(channel).GetRiskLimits(pb.GetRiskLimitsRequest(user_id="u1"))
    return reply.limits.max_daily_loss


def limits_blocking(channel: grpc.Channel) -> bool:
    return RiskServiceStub(channel).GetRiskLimits(pb.GetRiskLimitsRequest(user_id="u1")).is_default


async def wrong_request(channel: grpc.aio.Channel) -> None:
    await RiskServiceStub(channel).GetRiskLimits(pb.CheckOrderRequest())  # line 17


async def wrong_field(channel: grpc.aio.Channel) -> int:
    reply = await RiskServiceStub(channel).GetRiskLimits(pb.GetRiskLimitsRequest())
    return reply.limits.max_daily_loss  # line 22: a decimal string


def reason(err: grpc.aio.AioRpcError) -> str | None:
    info = error_info(err)
    return None if info is None else info.reason + info.domain + info.metadata["field"]


def wrong_reason(err: grpc.aio.AioRpcError) -> str:
    return error_info(err).reason  # line 31: it may be None
"""


def test_a_partners_code_type_checks_against_the_wheels_stubs(installed_api, tmp_path):
    """mypy --strict sees the stubs' request and response types: the right calls pass, a wrong
    request message and a wrong field type are errors (untyped stubs would pass both as Any), and
    so is using error_info's answer as if every error had one."""
    (tmp_path / "partner.py").write_text(PARTNER)
    # copytrade as mypy treats an installed package: used for its types, its own errors not shown
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n[mypy-copytrade.*]\nfollow_imports = silent\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--config-file", "mypy.ini", "partner.py"],
                          cwd=tmp_path, env={**os.environ, "MYPYPATH": str(installed_api)},
                          capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert [(e.split(":")[1], e.rsplit("[", 1)[-1]) for e in errors] == [("17", "arg-type]"), ("22", "return-value]"),
                                                                    ("31", "union-attr]")], \
        done.stdout + done.stderr


def _lowest_allowed(requirement: str, dist: str):
    from packaging.requirements import Requirement
    from packaging.version import Version

    req = next(r for r in map(Requirement, requirement) if r.name.lower() == dist)
    bounds = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    assert bounds, f"{req}: no lower bound"
    return max(bounds), req


def test_the_declared_protobuf_and_grpcio_are_never_older_than_the_generated_code_needs():
    """Each _pb2.py refuses a protobuf runtime older than the protoc that made it, each
    _pb2_grpc.py a grpcio older than its plugin: both pyprojects must not admit them."""
    import re
    import tomllib

    from packaging.version import Version

    generated = ROOT / "api" / "python" / "copytrade"
    protobuf = {Version(v) for p in generated.rglob("*_pb2.py")
                for v in re.findall(r"^# Protobuf Python Version: (\S+)$", p.read_text(), re.M)}
    grpcio = {Version(v) for p in generated.rglob("*_pb2_grpc.py")
              for v in re.findall(r"^GRPC_GENERATED_VERSION = '(\S+)'$", p.read_text(), re.M)}
    assert protobuf and grpcio
    for pyproject in (ROOT / "pyproject.toml", ROOT / "api" / "python" / "pyproject.toml"):
        dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        for dist, needed in (("protobuf", max(protobuf)), ("grpcio", max(grpcio))):
            lowest, req = _lowest_allowed(dependencies, dist)
            assert lowest >= needed, f"{pyproject.relative_to(ROOT)}: {req} admits {lowest}, the code needs {needed}"


# --- decoding a call's error (copytrade.errors) ------------------------------------------------


class RefusingRisk(risk_service_pb2_grpc.RiskServiceServicer):
    """Refuses as the services do: a google.rpc.Status whose details hold an ErrorInfo (after
    another detail, which the decoder passes over); GetTradingState refuses without details."""

    async def GetRiskLimits(self, request, context):
        info = error_details_pb2.ErrorInfo(reason="INVALID_LIMIT", domain="risk.copytrade",
                                           metadata={"field": "max_drawdown", "value": "2"})
        details = [any_pb2.Any(), any_pb2.Any()]
        details[0].Pack(error_details_pb2.RetryInfo())
        details[1].Pack(info)
        status = status_pb2.Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
                                   message="max_drawdown: at most 1", details=details)
        await context.abort_with_status(rpc_status.to_status(status))

    async def GetTradingState(self, request, context):
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such scope")


@pytest_asyncio.fixture
async def refusing_server():
    server = grpc.aio.server()
    risk_service_pb2_grpc.add_RiskServiceServicer_to_server(RefusingRisk(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def test_error_info_decodes_a_real_servers_rich_status(refusing_server):
    from copytrade.errors import ErrorInfo, error_info

    expected = ErrorInfo(reason="INVALID_LIMIT", domain="risk.copytrade",
                         metadata={"field": "max_drawdown", "value": "2"})
    async with grpc.aio.insecure_channel(refusing_server) as channel:
        stub = risk_service_pb2_grpc.RiskServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest(user_id="u1"))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(err.value) == expected
        with pytest.raises(grpc.aio.AioRpcError) as plain:
            await stub.GetTradingState(risk_service_pb2.GetTradingStateRequest())
        assert plain.value.code() == grpc.StatusCode.NOT_FOUND and error_info(plain.value) is None

    def blocking() -> grpc.RpcError:  # the synchronous API raises another class of error
        with grpc.insecure_channel(refusing_server) as channel:
            try:
                risk_service_pb2_grpc.RiskServiceStub(channel).GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())
            except grpc.RpcError as raised:
                return raised
        raise AssertionError("no error")

    assert error_info(await asyncio.to_thread(blocking)) == expected


# --- the wheel's README ------------------------------------------------------------------------

README = ROOT / "api" / "python" / "README.md"


def test_the_wheel_carries_its_readme(api_wheel):
    wheel = zipfile.ZipFile(api_wheel)
    metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "Description-Content-Type: text/markdown" in metadata
    for heading in ("## Install", "## Quickstart", "## Types"):
        assert heading in metadata


def quickstart() -> str:
    text = README.read_text()
    section = text[text.index("## Quickstart"):]
    return section[section.index("```python\n") + len("```python\n"):section.index("\n```", section.index("```python"))]


async def test_the_readmes_quickstart_runs_against_the_services_on_mutual_tls(
        start_service, over_tls, certs, installed_api, tmp_path):
    """The quickstart, as written, with only the wheel's copytrade: logs in over mutual TLS,
    calls risk with the token, and decodes the refusal's ErrorInfo, as the README says it prints."""
    compliance = await start_service("compliance", **over_tls("compliance"))
    risk = await start_service("risk", **over_tls("risk"))
    email, password = f"partner-{uuid.uuid4().hex[:8]}@example.com", "a partner's long passphrase"
    async with clients.balanced_channel(compliance.address, tls=tls.files(certs, tls.CLIENT)) as channel:
        await ComplianceServiceStub(channel).RegisterUser(compliance_pb.RegisterUserRequest(
            email=email, password=password, display_name="Partner"))
    (tmp_path / "quickstart.py").write_text(quickstart())
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(installed_api), "COPYTRADE_TLS_DIR": str(certs),
           "COMPLIANCE_ADDR": compliance.address, "RISK_ADDR": risk.address,
           "COPYTRADE_EMAIL": email, "COPYTRADE_PASSWORD": password}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import copytrade, runpy; print(copytrade.__file__); runpy.run_path('quickstart.py')",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    where, *printed = out.decode().splitlines()
    assert where.startswith(str(installed_api))  # the wheel's copytrade, not the repository's
    text = README.read_text()
    promised = text[text.index("It prints"):].split("```\n")[1].splitlines()
    assert printed == promised
