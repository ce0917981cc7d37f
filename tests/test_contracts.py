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


def test_dev_gen_reproduces_the_committed_package_and_keeps_what_is_written_by_hand(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "--allow-empty", "-m", "this checkout as it stands")
    run(["./dev", "gen"], clone)
    assert (clone / "api/python/copytrade/errors.py").exists()
    assert git(clone, "status", "--porcelain", "--", "api") == ""


def test_dev_check_guards_the_type_stubs(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    assert run(["./dev", "check"], clone, check=False).returncode == 0
    (clone / "api/python/copytrade/risk/v1/risk_service_pb2_grpc.pyi").unlink()
    done = run(["./dev", "check"], clone, check=False)
    assert done.returncode == 1 and "risk_service_pb2_grpc.pyi" in done.stdout, done.stdout + done.stderr


# --- buf breaking (./dev breaking; .ci/run runs it) -------------------------------------------

FIELD = "proto/copytrade/replication/v1/replication_service.proto"


def rename_a_field(checkout: Path) -> None:
    """CreateVenueAccountRequest.user_id becomes owner_id: the same wire, a new JSON name."""
    path = checkout / FIELD
    text = path.read_text()
    old = "message CreateVenueAccountRequest {\n  string user_id = 1;"
    assert old in text
    path.write_text(text.replace(old, "message CreateVenueAccountRequest {\n  string owner_id = 1;"))


TRADING = "proto/copytrade/type/v1/trading.proto"


def add_a_message(checkout: Path, name: str, field: str = "note") -> None:
    path = checkout / TRADING
    path.write_text(path.read_text() + f"\n// Added later: compatible.\nmessage {name} {{\n  string {field} = 1;\n}}\n")


def commit(checkout: Path, message: str) -> None:
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", message)


@pytest.fixture
def contracts_repo(tmp_path) -> Path:
    """A scratch repository holding today's contracts and the tooling that checks them, its
    first commit on main."""
    repo = tmp_path / "repo"
    for name in ("proto", "tools"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dev", "buf.yaml", ".gitignore", "pyproject.toml", "api/python/pyproject.toml"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    commit(repo, "contracts")
    borrow_venv(repo)
    return repo


def breaking(checkout: Path) -> subprocess.CompletedProcess:
    return run(["./dev", "breaking"], checkout, check=False)


def test_ci_runs_dev_breaking():
    assert any(line.strip().startswith("./dev breaking ||") for line in (ROOT / ".ci/run").read_text().splitlines())


def test_a_renamed_field_is_caught_before_and_after_it_lands_on_main(contracts_repo):
    repo = contracts_repo
    assert breaking(repo).returncode == 0  # the first contracts: nothing landed before them

    rename_a_field(repo)  # uncommitted: checked against main's HEAD
    done = breaking(repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CreateVenueAccountRequest" in done.stdout and "owner_id" in done.stdout

    commit(repo, "rename a field")
    (repo / "NOTES.md").write_text("a later commit that leaves proto/ alone\n")
    commit(repo, "notes")
    done = breaking(repo)  # a clean checkout of main, as CI has: main's last contract change
    assert done.returncode == 1 and "owner_id" in done.stdout, done.stdout + done.stderr


def test_a_branch_is_checked_against_where_it_left_main(contracts_repo):
    repo = contracts_repo
    add_a_message(repo, "AddedLater")
    commit(repo, "a compatible change on main")
    assert breaking(repo).returncode == 0

    git(repo, "checkout", "-q", "-b", "feature")
    trading = repo / TRADING
    trading.write_text(trading.read_text().replace("string note = 1;", "string memo = 1;"))
    commit(repo, "rename what main added")  # breaks main, though not main before AddedLater
    done = breaking(repo)
    assert done.returncode == 1 and "AddedLater" in done.stdout, done.stdout + done.stderr

    git(repo, "checkout", "-q", "-b", "compatible", "main")
    add_a_message(repo, "AddedOnABranch")
    commit(repo, "a compatible change on a branch")
    assert breaking(repo).returncode == 0


def test_a_shallow_clone_fetches_the_history_or_says_it_cannot(contracts_repo, tmp_path):
    rename_a_field(contracts_repo)
    commit(contracts_repo, "rename a field")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{contracts_repo}", str(shallow))
    borrow_venv(shallow)
    done = breaking(shallow)  # deepened from origin, then the landed rename is found
    assert done.returncode == 1 and "owner_id" in done.stdout, done.stdout + done.stderr

    cut_off = tmp_path / "cut-off"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{contracts_repo}", str(cut_off))
    borrow_venv(cut_off)
    git(cut_off, "remote", "set-url", "origin", str(tmp_path / "gone"))
    done = breaking(cut_off)
    assert done.returncode == 2 and "shallow" in done.stderr, done.stdout + done.stderr


def test_todays_contracts_pass_on_a_fresh_clone(tmp_path):
    clone = fresh_clone(tmp_path / "clone")
    done = breaking(clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "proto/ against" in done.stdout  # a real comparison, not "nothing to compare"
