"""The contracts' tooling as a newcomer and CI meet it: `./dev lint` and buf itself on a fresh
clone, and `./dev breaking` (which .ci/run runs) catching a breaking change to proto/.

The fresh clones get a .venv that borrows this test run's packages (a .pth file) with the stamp
./dev expects, so ./dev installs nothing and runs against what is installed here."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def run(cmd, cwd, check=True, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV, **kwargs.pop("env", {})}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def git(cwd, *args, check=True) -> str:
    return run(["git", *args], cwd, check=check).stdout.strip()


def borrow_venv(checkout: Path) -> None:
    """checkout/.venv: a virtualenv of its own that sees this run's site-packages and its tools
    (buf, protoc plugins), stamped as ./dev stamps an install, so ./dev installs nothing."""
    venv = checkout / ".venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], checkout)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                      checkout).stdout.strip())
    (theirs / "_borrowed.pth").write_text(f"import site; site.addsitedir({str(ours)!r})\n")
    for tool in Path(sys.executable).parent.iterdir():
        if not (venv / "bin" / tool.name).exists():
            (venv / "bin" / tool.name).symlink_to(tool)
    pyprojects = (checkout / "pyproject.toml").read_bytes() + (checkout / "api/python/pyproject.toml").read_bytes()
    (venv / ".stamp").write_text(hashlib.sha256(pyprojects).hexdigest()[:16] + "\n")


def fresh_clone(into: Path) -> Path:
    """A fresh clone of this checkout: its commits, plus the work tree's changes git would
    commit (tracked and untracked files, nothing ignored: no third_party/, no .venv)."""
    git(into.parent, "clone", "-q", str(ROOT), str(into))
    diff = run(["git", "diff", "HEAD", "--binary"], ROOT).stdout
    if diff:
        run(["git", "apply", "--whitespace=nowarn", "-"], into, input=diff)
    for name in git(ROOT, "ls-files", "--others", "--exclude-standard", "-z").split("\0"):
        if name and (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    assert not (into / "third_party").exists()
    borrow_venv(into)
    return into


def test_buf_lints_and_builds_a_fresh_clone_after_any_dev_command(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    # What a newcomer runs first (README: ./dev test) installs buf into .venv; buf then works
    # from the root, as README says, without ./dev gen.
    run(["./dev", "test", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_file_modes.py"], clone)
    for command in (["lint"], ["build", "-o", os.devnull]):
        done = run([".venv/bin/buf", *command], clone, check=False)
        assert done.returncode == 0, f"buf {command[0]} on a fresh clone:\n{done.stdout}{done.stderr}"


def test_dev_lint_works_on_a_fresh_clone_and_leaves_the_generated_code_alone(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    stub = clone / "api/python/copytrade/risk/v1/risk_service_pb2.py"
    stub.write_text(stub.read_text() + "# drifted\n")  # lint must not hide drift by regenerating
    done = run(["./dev", "lint"], clone, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert stub.read_text().endswith("# drifted\n"), "./dev lint rewrote the generated code"
    assert run(["./dev", "check"], clone, check=False).returncode == 1  # the drift is still caught
