"""A private PostgreSQL cluster (initdb + pg_ctl from the machine's PostgreSQL), for tests and
benchmarks that must restart the database under the services without touching anybody else's.

    pg = await PrivatePostgres(tmp_dir).start()     # pg.url: postgresql://postgres@127.0.0.1:PORT/postgres
    await pg.restart()                               # pg_ctl restart -m fast
    await pg.stop()

PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` user (runuser),
in a directory that user owns.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import tempfile
from pathlib import Path

from services.kit.natsd import free_port


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl, or pg_ctl on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]),
                            reverse=True):
        if os.access(Path(candidate) / "initdb", os.X_OK) and os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class PrivatePostgres:
    def __init__(self, parent: Path | None = None, port: int | None = None, *, fsync: bool = False,
                 options: str = "") -> None:
        """fsync=False (tests): a restart, not a power cut, is what they survive, on a shared
        machine; a benchmark wants fsync=True, the commit cost production pays. options: more
        `-c name=value` server settings (a deployment's, under test)."""
        self.fsync = fsync
        self.options = options
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
        self.bin_dir = bin_dir
        self.port = port or free_port()
        # A directory of its own that the server's user can write (not under a root-only tmp_path).
        self.root = Path(tempfile.mkdtemp(prefix="copytrade-pg-", dir=parent))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.root.chmod(0o700)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *args: str, timeout: float = 120.0) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._as_user, str(self.bin_dir / args[0]), *args[1:],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
        if process.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({process.returncode}): {out.decode(errors='replace')[-2000:]}")

    def _options(self) -> str:
        # Loopback only, the socket in our own directory.
        durability = "" if self.fsync else "-c fsync=off -c full_page_writes=off "
        return (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                f"{durability}-c max_connections=300 {self.options}").strip()

    async def start(self) -> "PrivatePostgres":
        if not (self.data / "PG_VERSION").exists():
            await self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                            "-E", "UTF8")
        await self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w",
                        "-t", "60", "start")
        return self

    async def restart(self, mode: str = "fast") -> None:
        """Stop (`fast`: disconnect every client, roll back open transactions) and start again."""
        await self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-m", mode,
                        "-w", "-t", "60", "restart")

    async def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                await self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
            except (RuntimeError, TimeoutError):
                await self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def own(self, source: Path, name: str) -> Path:
        """A copy of `source` in the cluster's directory, the server user's alone (0600), as
        PostgreSQL wants its TLS key."""
        target = self.root / name
        target.write_bytes(source.read_bytes())
        target.chmod(0o600)
        if self._as_user:
            user = pwd.getpwnam("postgres")
            os.chown(target, user.pw_uid, user.pw_gid)
        return target

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def log_tail(pg: PrivatePostgres, lines: int = 30) -> str:
    try:
        return "\n".join(pg.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

