"""`copytrade up`: nats-server from the wheel, then every service as its own process.

Ports (with --port-base B, default 15050): nats B, discovery B+1, replication B+2, risk B+3,
compliance B+4, gateway gRPC B+5, gateway HTTP B+6, the demo's simulator B+7, each service's
/metrics B+11..B+15; with --nats-cluster, the other two NATS nodes at B+8 and B+9 and the
three nodes' cluster routes at B+16..B+18. Data (SQLite files, JetStream store,
generated secrets) lives under --data-dir, so a second `up` on it keeps everything.

Every connection is on mutual TLS, loopback too: the services' gRPC ports, their calls to each
other and to NATS, and the tools' (certificates from a CA made once per data directory, in
<data-dir>/tls; the tools' own is client.pem). One configuration everywhere, proved by every
test that runs `up`; on loopback it costs a handshake per connection.

When the reader of its output goes away (`copytrade up | head -n 1` once head has its line), `up`
stops everything it started and exits 141, as a shell tool killed by SIGPIPE does.

The launcher supervises what it starts: a service (or NATS node) that exits is started again
after a backoff that doubles with each crash; one that crashes MAX_CRASHES times within
CRASH_WINDOW_S stops `up`, as Ctrl-C does.

Beside the mesh it can run a Companion it is handed (the demo's: demo.runner.Demo, for
`up --demo`); it knows nothing else of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import select
import signal
import stat
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Protocol, TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.kit import clients, fillsign, natsauth, revocations, tls
from services.kit.bus import Bus
from services.kit.config import DEFAULT_PORT_BASE, PORT_OFFSETS, SERVICES, Settings, TlsFiles
from services.kit.natsd import NatsCluster, NatsServer, port_free

START_TIMEOUT_S = 180.0  # five Python services importing at once on a busy 2-core machine take a minute or more
METRICS_OFFSET = 10
# A local NATS cluster's nodes: (client port, route port) as offsets from the port base.
NATS_CLUSTER_OFFSETS = ((0, 16), (8, 17), (9, 18))
# Supervision: the first restart after RESTART_BACKOFF_S, doubling per crash in the window up to
# RESTART_BACKOFF_MAX_S; MAX_CRASHES within CRASH_WINDOW_S is a service that keeps crashing.
RESTART_BACKOFF_S = 0.5
RESTART_BACKOFF_MAX_S = 30.0
MAX_CRASHES = 5
CRASH_WINDOW_S = 120.0
SEED_RETRY_S = 120.0  # how long a companion's seeding waits for a service that went away to be back


class Companion(Protocol):
    """What `up` runs beside the mesh (the demo): started before the services, which get its
    environment() and list its endpoints(); its ports() (port: what binds it) are checked with the
    mesh's before anything starts; seeded through them once they serve (seed() skips
    what exists); its traffic started after the banner, stopped before the services stop, and
    itself stopped last."""

    def ports(self) -> dict[int, str]: ...
    async def start(self) -> None: ...
    def environment(self) -> dict[str, str]: ...
    def endpoints(self) -> dict[str, str]: ...
    async def seed(self, addresses: dict[str, str], tls_files: TlsFiles | None = None) -> None: ...
    def banner(self, endpoints: dict[str, str], tls_files: TlsFiles | None = None) -> str: ...
    def start_traffic(self) -> None: ...
    async def stop_traffic(self) -> None: ...
    async def stop(self) -> None: ...


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
    """MASTER_KEY, JWT_SECRET and the master fills' signing pair (FILL_SIGNING_KEY,
    FILL_VERIFY_KEY) for this data directory: from the environment when set, otherwise generated
    once and kept (0600), so stored credentials stay decryptable."""
    path = data_dir / "secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name in ("MASTER_KEY", "JWT_SECRET"):
        if os.environ.get(name):
            stored[name] = os.environ[name]
        elif name not in stored:
            stored[name] = secrets.token_urlsafe(32)
            changed = True
    pair = (fillsign.SIGNING_VARIABLE, fillsign.VERIFY_VARIABLE)
    if all(os.environ.get(name) for name in pair):
        stored.update({name: os.environ[name] for name in pair})
    elif not all(name in stored for name in pair):
        stored.update(fillsign.generate())
        changed = True
    if changed:
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    return stored


async def wait_serving(address: str, timeout: float, tls_files: TlsFiles | None = None) -> None:
    """Until the service at `address` answers SERVING (tls_files: a client's, for a TLS port)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with clients.balanced_channel(address, tls=tls_files) as channel:
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
                 extra_env: dict[str, str] | None = None, extra_endpoints: dict[str, str] | None = None,
                 nats_nodes: int = 1) -> None:
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port_base = port_base
        self.services = services
        # What a caller adds around the services (the demo's simulator): their environment and
        # where it listens, written to endpoints.json with the rest.
        self.extra_env = dict(extra_env or {})
        self.extra_endpoints = dict(extra_endpoints or {})
        # NATS authentication: each service its own user and allow-lists, passwords kept per data
        # directory (nats-users.json, 0600) like the other generated secrets.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.nats_passwords = natsauth.persistent_passwords(self.data_dir / "nats-users.json")
        # Mutual TLS: the CA and certificates, made once (renewed near their end); each carries
        # the listening host's name too.
        self.tls_dir = tls.ensure(self.data_dir / "tls", hosts=(host,))
        self.client_tls = tls.files(self.tls_dir, tls.CLIENT)  # what tools and tests call with
        nats_tls = tls.files(self.tls_dir, tls.NATS)
        if not 1 <= nats_nodes <= len(NATS_CLUSTER_OFFSETS):
            raise ValueError(f"a local NATS cluster has 1 to {len(NATS_CLUSTER_OFFSETS)} nodes")
        self.nats_nodes = nats_nodes
        if nats_nodes == 1:
            self.nats: NatsServer | NatsCluster = NatsServer(self.data_dir / "jetstream", host=host,
                                                             port=port_base + PORT_OFFSETS["nats"],
                                                             users=self.nats_passwords, tls=nats_tls)
        else:  # its own store: a single node's streams do not join a cluster
            offsets = NATS_CLUSTER_OFFSETS[:nats_nodes]
            self.nats = NatsCluster(self.data_dir / "jetstream-cluster", host, nats_nodes,
                                    ports=[port_base + client for client, _ in offsets],
                                    cluster_ports=[port_base + route for _, route in offsets],
                                    users=self.nats_passwords, tls=nats_tls)
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
        env.pop(fillsign.SIGNING_VARIABLE)  # replication's alone (service_environment)
        env.update({
            "COPYTRADE_DATA_DIR": str(self.data_dir),
            "COPYTRADE_HOST": self.host,
            "COPYTRADE_PORT_BASE": str(self.port_base),
            "NATS_URL": self.nats.url,
            "NATS_STREAM_REPLICAS": str(min(3, self.nats_nodes)),
            "GATEWAY_HTTP_ADDR": self.address("http"),
        })
        for name in SERVICES:
            env[f"{name.upper()}_ADDR"] = self.address(name)
        env.update(self.extra_env)
        return env

    async def start(self) -> dict[str, str]:
        make_private(self.data_dir)
        await self.nats.start()
        await self.provision_streams()
        (self.data_dir / "logs").mkdir(exist_ok=True)
        for name in self.services:
            self.spawn(name)
        await asyncio.gather(*(self._wait(name) for name in self.services))
        endpoints = await self.endpoints()
        (self.data_dir / "endpoints.json").write_text(json.dumps(endpoints, indent=2) + "\n")
        return endpoints

    async def provision_streams(self) -> None:
        """The mesh's streams and the token revocations', made as admin before any service
        starts: each service creates only the streams it owns (services/kit/bus.py OWNERS) and
        waits for those it reads, whose owner this mesh may not run."""
        admin = await Bus.connect(self.nats_url_as(), "up", replicas=min(3, self.nats_nodes), tls=self.client_tls)
        try:
            await revocations.ensure_stream(admin)
        finally:
            await admin.close()

    def spawn(self, name: str) -> subprocess.Popen:
        """Start service `name` as its own process, logging to logs/<name>.log."""
        env = self.environment()
        with open(self.data_dir / "logs" / f"{name}.log", "ab") as log_file:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                env={**env, **self.service_environment(name)}, stdout=log_file, stderr=subprocess.STDOUT,
                umask=PRIVATE_UMASK,  # the files each service makes are 0600
            )
        return self.processes[name]

    def service_environment(self, name: str) -> dict[str, str]:
        """What one service's process gets beyond environment(): its addresses, its NATS user,
        its certificate."""
        own = tls.files(self.tls_dir, name)
        env = {"LISTEN_ADDR": self.address(name), "METRICS_ADDR": self.metrics_address(name),
               "NATS_USER": name, "NATS_PASSWORD": self.nats_passwords[name],
               "TLS_CA": str(own.ca), "TLS_CERT": str(own.cert), "TLS_KEY": str(own.key)}
        if name == "replication":  # the one signer of master fills
            signing = fillsign.SIGNING_VARIABLE
            env[signing] = persistent_secrets(self.data_dir)[signing]
        return env

    def nats_url_as(self, user: str = natsauth.ADMIN) -> str:
        """NATS_URL with a user's credentials in it: for tools and tests (admin: no limits), who
        connect with client_tls (Bus.connect(..., tls=mesh.client_tls))."""
        return self.nats.url_as(user)

    def nats_servers(self) -> list[NatsServer]:
        return self.nats.nodes if isinstance(self.nats, NatsCluster) else [self.nats]

    async def _wait(self, name: str) -> None:
        waiter = asyncio.create_task(wait_serving(self.address(name), START_TIMEOUT_S, self.client_tls))
        while not waiter.done():
            if self.processes[name].poll() is not None:
                waiter.cancel()
                raise RuntimeError(f"{name} exited during start; see {self.data_dir}/logs/{name}.log")
            await asyncio.sleep(0.05)
        await waiter

    def dead(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is not None]

    async def supervise(self, stop: asyncio.Event, out: TextIO | None = None) -> int:
        """Keep every service and NATS node running until `stop` is set (returns 0), restarting
        what exits; a service that keeps crashing ends it (returns 1). Each event is logged."""
        crashes: dict[str, deque[float]] = {}
        due: dict[str, float] = {}  # name -> when it is started again
        # A node stopped on purpose (stop(), kill()) has no process: only one that died is restarted.
        nats = {f"nats {node.name or node.port}": node for node in self.nats_servers()}

        def say(line: str) -> None:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=out or sys.stderr, flush=True)

        while not stop.is_set():
            now = time.monotonic()
            exited = [(name, self.processes[name].returncode) for name in self.dead() if name not in due]
            exited += [(label, node.process.returncode) for label, node in nats.items()
                       if node.process is not None and node.process.poll() is not None and label not in due]
            for name, code in exited:
                recent = crashes.setdefault(name, deque())
                recent.append(now)
                while recent and recent[0] < now - CRASH_WINDOW_S:
                    recent.popleft()
                if len(recent) >= MAX_CRASHES:
                    say(f"{name} exited (code {code}) {len(recent)} times in {CRASH_WINDOW_S:.0f}s; "
                        f"giving up; see {self.data_dir / 'logs'}")
                    return 1
                delay = min(RESTART_BACKOFF_MAX_S, RESTART_BACKOFF_S * 2 ** (len(recent) - 1))
                due[name] = now + delay
                say(f"{name} exited (code {code}); restarting in {delay:.1f}s "
                    f"(crash {len(recent)} of {MAX_CRASHES} allowed in {CRASH_WINDOW_S:.0f}s)")
            for name, at in list(due.items()):
                if at > now:
                    continue
                del due[name]
                if name in nats:
                    node = nats[name]
                    try:
                        await node.start()
                    except (RuntimeError, TimeoutError) as exc:  # counts as another crash next round
                        say(f"{name} did not start again: {exc}")
                        continue
                    say(f"{name} restarted")
                else:
                    say(f"{name} restarted (pid {self.spawn(name).pid})")
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except TimeoutError:
                pass
        return 0

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
    if Settings.from_env("gateway").static_dir is not None:
        return
    from services import webapp

    try:
        webapp.ensure_built(data_dir.resolve() / "logs" / "web-build.log")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"web app: not built: {exc}", file=sys.stderr, flush=True)


async def seed_supervised(mesh: Mesh, show: Companion) -> None:
    """The companion's seeding, with the services supervised meanwhile: one that exits is started
    again and the seeding (which skips what exists) goes on, instead of `up` giving up."""
    done = asyncio.Event()
    supervisor = asyncio.create_task(mesh.supervise(done))
    deadline = time.monotonic() + SEED_RETRY_S
    try:
        while True:
            try:
                await show.seed({name: mesh.address(name) for name in SERVICES}, mesh.client_tls)
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline or supervisor.done():
                    raise
                print(f"seeding waits for a service: {exc.details()}", file=sys.stderr, flush=True)
                await asyncio.sleep(1)
    finally:
        done.set()
        if await supervisor:
            raise RuntimeError("a service kept crashing while the companion (the demo) was seeded")


READER_GONE_EXIT = 128 + signal.SIGPIPE  # 141: what a shell reports for a tool killed by SIGPIPE
OUTPUT_CHECK_S = 0.2


def unread_outputs(streams: tuple[TextIO, ...] | None = None) -> list[TextIO]:
    """Those of `streams` (default stdout and stderr) that go into a pipe or socket whose reader
    went away (`copytrade up | head` once head has its lines): polled, so noticed with nothing to
    write. A terminal or a file is never one."""
    gone = []
    for stream in (sys.stdout, sys.stderr) if streams is None else streams:
        try:
            fd = stream.fileno()
            mode = os.fstat(fd).st_mode
        except (OSError, ValueError, AttributeError):  # closed, or not a file (a test's capture)
            continue
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            continue
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR (a pipe without reader) and POLLHUP are reported unasked
        if any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0)):
            gone.append(stream)
    return gone


def silence(stream: TextIO) -> None:
    """What is written to `stream` from now on goes nowhere: its reader went away, and neither
    a later line nor the exit's flush may fail on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


async def watch_outputs(stop: asyncio.Event, gone: list[TextIO]) -> None:
    """Until `stop` is set: when an output's reader goes away, silence it, note it in `gone` and
    set `stop`, so `up` stops what it started."""
    while not stop.is_set():
        if closed := unread_outputs():
            for stream in closed:
                silence(stream)
            gone.extend(closed)
            stop.set()
            return
        try:
            await asyncio.wait_for(stop.wait(), OUTPUT_CHECK_S)
        except TimeoutError:
            pass


def say(*lines: str, file: TextIO | None = None) -> bool:
    """print() and flush, False (the stream silenced) when its reader went away meanwhile."""
    stream = file or sys.stdout
    try:
        print(*lines, sep="\n", file=stream, flush=True)
        return True
    except BrokenPipeError:
        silence(stream)
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc})"


def block_ports(port_base: int, nats_nodes: int = 1) -> dict[int, str]:
    """Every port `up` binds in its block, and what binds it."""
    ports = {port_base + PORT_OFFSETS[name]: name for name in (*SERVICES, "http")}
    ports.update({port_base + METRICS_OFFSET + PORT_OFFSETS[name]: f"{name} metrics" for name in SERVICES})
    if nats_nodes == 1:
        ports[port_base + PORT_OFFSETS["nats"]] = "nats"
    else:
        for i, (client, route) in enumerate(NATS_CLUSTER_OFFSETS[:nats_nodes], 1):
            ports.update({port_base + client: f"nats node {i}", port_base + route: f"nats node {i} routes"})
    return ports


def taken_ports(host: str, ports: dict[int, str]) -> str:
    """Which of `ports` something else holds, in words ("" for none): checked before anything
    starts, since readiness checks would otherwise reach the other program and call `up` ready."""
    return ", ".join(f"{port} ({what})" for port, what in sorted(ports.items())
                     if not port_free(host, port, as_server=True))


def ready_banner(endpoints: dict[str, str], data_dir: Path, client_tls: TlsFiles | None) -> str:
    lines = ["copytrade is up:", *(f"  {name:<12} {where}" for name, where in endpoints.items()),
             f"endpoints written to {data_dir / 'endpoints.json'}; logs in {data_dir / 'logs'}",
             f"try: {tls.grpcurl_command(client_tls)} {endpoints['risk']} list      (Ctrl-C stops everything)"]
    return "\n".join(lines)


async def run_up(data_dir: Path, host: str, port_base: int, companion: Companion | None = None,
                 nats_nodes: int = 1) -> int:
    ports = {**block_ports(port_base, nats_nodes), **(companion.ports() if companion else {})}
    if taken := taken_ports(host, ports):
        print(f"copytrade up failed: in use on {host}: {taken} (another copytrade up?); nothing was started. "
              f"Run on another block of ports with --port-base B (B..B+{max(ports) - port_base} free; "
              f"default {DEFAULT_PORT_BASE})", file=sys.stderr)
        return 1
    await asyncio.to_thread(build_web_app, data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gone: list[TextIO] = []  # outputs whose reader went away: then `up` stops and exits 141
    watcher = asyncio.create_task(watch_outputs(stop, gone))
    show = companion
    if show:
        try:
            await show.start()  # first: the services are told where it is
        except (OSError, ValueError, KeyError) as exc:  # the port taken, or the demo's demo.json unreadable
            print(f"copytrade up failed: the demo cannot start: {exc!r}", file=sys.stderr)
            watcher.cancel()
            await show.stop()
            return 1
    mesh = Mesh(data_dir, host, port_base, extra_env=show.environment() if show else None,
                extra_endpoints=show.endpoints() if show else None, nats_nodes=nats_nodes)
    try:
        endpoints = await mesh.start()
        if show:
            await seed_supervised(mesh, show)
    except Exception as exc:
        watcher.cancel()
        print(f"copytrade up failed: {exc}", file=sys.stderr)
        for name in mesh.dead():
            print(f"{name} exited (code {mesh.processes[name].returncode}); the end of its log:\n"
                  f"{log_tail(mesh.data_dir / 'logs' / f'{name}.log')}", file=sys.stderr)
        await mesh.stop()
        if show:
            await show.stop()
        return 1
    code = 1
    try:
        # Flushed: into a pipe (`up | head -n 3`) the banner is what the reader waits for.
        if not say(ready_banner(endpoints, mesh.data_dir, mesh.client_tls)):
            gone.append(sys.stdout)
        elif show:
            if not say(show.banner(endpoints, mesh.client_tls)):
                gone.append(sys.stdout)
            else:
                show.start_traffic()
        if not gone:
            code = await mesh.supervise(stop)
    except BrokenPipeError:  # an output's reader went away between two checks
        if not (broken := unread_outputs()):
            raise
        for stream in broken:
            silence(stream)
        gone.extend(broken)
    finally:
        stop.set()
        watcher.cancel()
        if gone:
            code = READER_GONE_EXIT
            silence(sys.stdout)
            say("stopping: the output's reader went away", file=sys.stderr)
        else:
            say("stopping...")
        if show:
            await show.stop_traffic()  # no new master trades while the services go
        await mesh.stop()
        if show:
            await show.stop()  # the demo's simulator last: replication talks to it until it stops
    return code
