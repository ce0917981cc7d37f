"""The web app's build for `copytrade up`: `npm ci` when web/node_modules does not match
package-lock.json, `vite build` when web/dist is missing or older than the sources. Each step
is skipped when a stamp (a hash of what it was built from) says it is current, so a second `up`
costs a few file reads. Without node the API still runs; `up` says why there is no app."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
SOURCES = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src", "public")
DEPS_STAMP = "node_modules/.copytrade-lock"
BUILD_STAMP = "dist/.copytrade-build"
BUILD_TIMEOUT_S = 600


def _digest(web: Path, names: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in names:
        root = web / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root] if root.is_file() else []
        for path in files:
            h.update(str(path.relative_to(web)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _current(web: Path, stamp: str, digest: str) -> bool:
    path = web / stamp
    return path.is_file() and path.read_text().strip() == digest


def status(web: Path = WEB_DIR) -> str:
    """'current', 'stale' or 'missing' (no dist/index.html)."""
    if not (web / "dist" / "index.html").is_file():
        return "missing"
    return "current" if _current(web, BUILD_STAMP, _digest(web, SOURCES)) else "stale"


def _run(command: list[str], web: Path, log: Path) -> None:
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(command)}\n".encode())
        out.flush()
        done = subprocess.run(command, cwd=web, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S,
                              check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(command)}` failed (exit {done.returncode}); see {log}:\n{tail}")


def ensure_dependencies(log: Path, web: Path = WEB_DIR) -> None:
    """`npm ci` unless web/node_modules was installed from this package-lock.json."""
    lock_digest = _digest(web, ("package-lock.json",))
    if not _current(web, DEPS_STAMP, lock_digest):
        log.parent.mkdir(parents=True, exist_ok=True)
        _run([shutil.which("npm") or "npm", "ci", "--no-audit", "--no-fund"], web, log)
        (web / DEPS_STAMP).write_text(lock_digest)


def ensure_built(log: Path, web: Path = WEB_DIR, say=lambda line: print(line, flush=True)) -> bool:
    """Build the app if it is missing or stale. True when there is an app to serve at /."""
    if not (web / "package.json").is_file():
        return False  # an install without the web sources (a service image): nothing to build
    state = status(web)
    if state == "current":
        return True
    if shutil.which("node") is None or shutil.which("npm") is None:
        what = ("is out of date, and the old build is served" if state == "stale"
                else "is not built, so nothing is served at /")
        say(f"web app: node/npm are not installed: the app {what} (the REST API, /docs and the CLI work "
            "without it). Install Node.js 20+ with npm (e.g. `apt-get install nodejs npm`) and run "
            "`copytrade up` again.")
        return state == "stale"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(web / ".build.lock", "w") as lock:  # two `up`s at once: one builds, the other waits
        fcntl.flock(lock, fcntl.LOCK_EX)
        if status(web) == "current":
            return True
        say(f"web app: {state}; building it (npm ci + vite build, log in {log})...")
        ensure_dependencies(log, web)
        digest = _digest(web, SOURCES)
        _run([str(web / "node_modules" / ".bin" / "vite"), "build"], web, log)
        (web / BUILD_STAMP).write_text(digest)
        say("web app: built into web/dist")
    return True


if __name__ == "__main__":  # `python -m services.webapp`: install and build now (CI does, before the tests)
    import sys

    sys.exit(0 if ensure_built(WEB_DIR.parent / "data" / "logs" / "web-build.log") else 1)
