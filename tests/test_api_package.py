"""Partners install just the generated stubs: the copytrade-api wheel builds and works alone."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_api_wheel_holds_the_stubs_and_imports_on_its_own(tmp_path):
    source = tmp_path / "src"  # build from a copy: setuptools leaves build/ beside the sources
    shutil.copytree(ROOT / "api" / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True)
    wheel = next((tmp_path / "dist").glob("copytrade_api-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for service in ("discovery", "replication", "risk", "compliance", "gateway"):
        assert f"copytrade/{service}/v1/{service}_service_pb2_grpc.py" in names
        assert f"copytrade/{service}/v1/{service}_service_pb2.pyi" in names
    assert "copytrade/type/v1/trading_pb2.py" in names
    assert not any(n.startswith(("services/", "venue_sim/")) for n in names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True)
    probe = ("import copytrade, copytrade.risk.v1.risk_service_pb2_grpc as g;"
             "from copytrade.risk.v1 import risk_service_pb2 as pb;"
             "print(copytrade.__file__); print(pb.GetRiskLimitsRequest(user_id='u').user_id);"
             "print(hasattr(g, 'RiskServiceStub'))")
    out = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(target)}, check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout.split()
    assert out[0].startswith(str(target))  # the wheel's copy, not the repository's
    assert out[1:] == ["u", "True"]


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
