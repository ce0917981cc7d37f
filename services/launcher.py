"""`copytrade up`: nats-server from the wheel, then every service as its own process.

Ports (with --port-base B, default 15050): nats B, discovery B+1, replication B+2, risk B+3,
compliance B+4, gateway gRPC B+5, gateway HTTP B+6, the demo's simulator B+7, each service's
/metrics B+11..B+15. Data (SQLite files, JetStream store,
generated secrets) lives under --data-dir, so a second `up` on it keeps everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit.config import PORT_OFFSETS, SERVICES
from services.kit.natsd import NatsServer

START_TIMEOUT_S = 180.0  # five Python services importing at once on a busy 2-core machine take a minute or more
METRICS_OFFSET = 10


PRIVATE_UMASK = 0o077  # files 0600, directories 0700


def make_private(data_dir: Path) -> None:
    """The data directory and all in it readable by this user alone: credentials' ciphertext, the
    audit trail and the logs are nobody else's business. From here on this process (and what it
    starts: nats-server, the services) creates files 0600; what an older run left is tightened."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in [data_dir, *data_dir.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            if mode & 0o077:
                path.chmod(stat.S_IMODE(mode) & 0o700)


def persistent_secrets(data_dir: Path) -> dict[str, str]:
    """MASTER_KEY and JWT_SECRET for this data directory: from the environment when set,
    otherwise generated once and kept (0600), so stored credentials stay decryptable."""
    path = data_dir / "secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name in ("MASTER_KEY", "JWT_SECRET"):
        if os.environ.get(name):
            stored[name] = os.environ[name]
        elif name not in stored:
            stored[name] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    return stored


async def wait_serving(address: str, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no healthy service at {address}")
            await asyncio.sleep(0.1)


async def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    writer.close()
    return True


class Mesh:
    def __init__(self, data_dir: Path, host: str, port_base: int, services: tuple[str, ...] = SERVICES, *,
                 extra_env: dict[str, str] | None = None, extra_endpoints: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port_base = port_base
        self.services = services
        # What a caller adds around the services (the demo's simulator): their environment and
        # where it listens, written to endpoints.json with the rest.
        self.extra_env = dict(extra_env or {})
        self.extra_endpoints = dict(extra_endpoints or {})
        self.nats = NatsServer(self.data_dir / "jetstream", host=host, port=port_base + PORT_OFFSETS["nats"])
        self.processes: dict[str, subprocess.Popen] = {}

    def address(self, name: str) -> str:
        return f"{self.host}:{self.port_base + PORT_OFFSETS[name]}"

    def metrics_address(self, name: str) -> str:
        """Where a service serves /metrics: B+10 plus its own offset (discovery B+11 ... gateway B+15)."""
        return f"{self.host}:{self.port_base + METRICS_OFFSET + PORT_OFFSETS[name]}"

    async def endpoints(self) -> dict[str, str]:
        out = {name: self.address(name) for name in self.services}
        out["nats"] = self.nats.url
        out.update(self.extra_endpoints)
        if await _listening(self.address("http")):  # once the gateway serves HTTP
            out["http"] = f"http://{self.address('http')}"
        for name in self.services:
            out[f"metrics_{name}"] = f"http://{self.metrics_address(name)}/metrics"
        return out

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(persistent_secrets(self.data_dir))
        env.update({
            "COPYTRADE_DATA_DIR": str(self.data_dir),
            "COPYTRADE_HOST": self.host,
            "COPYTRADE_PORT_BASE": str(self.port_base),
            "NATS_URL": self.nats.url,
            "GATEWAY_HTTP_ADDR": self.address("http"),
        })
        for name in SERVICES:
            env[f"{name.upper()}_ADDR"] = self.address(name)
        env.update(self.extra_env)
        return env

    async def start(self) -> dict[str, str]:
        make_private(self.data_dir)
        await self.nats.start()
        env = self.environment()
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        for name in self.services:
            with open(logs / f"{name}.log", "ab") as log_file:
                self.processes[name] = subprocess.Popen(  # umask: the files each service makes are 0600
                    [sys.executable, "-m", f"services.{name}"],
                    env={**env, "LISTEN_ADDR": self.address(name), "METRICS_ADDR": self.metrics_address(name)},
                    stdout=log_file, stderr=subprocess.STDOUT, umask=PRIVATE_UMASK,
                )
        await asyncio.gather(*(self._wait(name) for name in self.services))
        endpoints = await self.endpoints()
        (self.data_dir / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")
        return endpoints

    async def _wait(self, name: str) -> None:
        waiter = asyncio.create_task(wait_serving(self.address(name), START_TIMEOUT_S))
        while not waiter.done():
            if self.processes[name].poll() is not None:
                waiter.cancel()
                raise RuntimeError(f"{name} exited during start; see {self.data_dir}/logs/{name}.log")
            await asyncio.sleep(0.05)
        await waiter

    def dead(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    async def stop(self) -> None:
        (self.data_dir / "endpoints.json").unlink(missing_ok=True)  # nothing listens there any more
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), 10)
            except TimeoutError:
                process.kill()
        self.processes.clear()
        await self.nats.stop()


def build_web_app(data_dir: Path) -> None:
    """The web app the gateway serves at /, built first when missing or stale (unless
    GATEWAY_STATIC_DIR points elsewhere). A failed build is reported; the API runs regardless."""
    if os.environ.get("GATEWAY_STATIC_DIR"):
        return
    from services import webapp

    try:
        webapp.ensure_built(data_dir.resolve() / "logs" / "web-build.log")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"web app: not built: {exc}", file=sys.stderr, flush=True)


async def run_up(data_dir: Path, host: str, port_base: int, demo: bool = False) -> int:
    await asyncio.to_thread(build_web_app, data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    show = None
    if demo:
        from services.demo.runner import Demo

        show = Demo(data_dir, port_base)
        try:
            await show.start_venue()  # first: the services are told its URL
        except (OSError, ValueError, KeyError) as exc:  # the port taken, or demo.json unreadable
            print(f"copytrade up failed: the demo cannot start: {exc!r}", file=sys.stderr)
            await show.stop()
            return 1
    mesh = Mesh(data_dir, host, port_base, extra_env=show.environment() if show else None,
                extra_endpoints=show.endpoints() if show else None)
    try:
        endpoints = await mesh.start()
        if show:
            await show.seed({name: mesh.address(name) for name in SERVICES})
    except Exception as exc:
        print(f"copytrade up failed: {exc}", file=sys.stderr)
        await mesh.stop()
        if show:
            await show.stop()
        return 1
    print("copytrade is up:")
    for name, where in endpoints.items():
        print(f"  {name:<12} {where}")
    print(f"endpoints written to {mesh.data_dir / 'endpoints.json'}; logs in {mesh.data_dir / 'logs'}")
    print("try: grpcurl -plaintext " + endpoints["risk"] + " list      (Ctrl-C stops everything)")
    if show:
        print(show.banner(endpoints), flush=True)
        show.start_bot()
    code = 0
    while not stop.is_set():
        dead = mesh.dead()
        if dead:
            print(f"service(s) exited: {', '.join(dead)}; see {mesh.data_dir / 'logs'}", file=sys.stderr)
            code = 1
            break
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass
    print("stopping...")
    if show:
        await show.stop_bot()  # no new master trades while the services go
    await mesh.stop()
    if show:
        await show.stop()  # the simulator last: replication talks to it until it stops
    return code
