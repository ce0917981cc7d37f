"""`./dev breaking`: buf breaking (buf.yaml: WIRE_JSON) of proto/ against main's last landed
contracts. CI (.ci/run) runs it on its clean checkout of main.

    python tools/breaking.py                # against the baseline below
    python tools/breaking.py --against REF  # against proto/ at any commit, branch or tag

The baseline, "main's last landed contracts", is read from git, not from a committed image:
git's first-parent history of main already records what landed, and a baseline image would
have to be refreshed by hand, in the same change that may break it, so the check would only be
as good as the review of that refresh. Concretely, with `landed` = where this checkout meets
main (`git merge-base HEAD main`; on main itself, HEAD):

- proto/ differs from `landed` (uncommitted edits, or a branch's commits): the changes are
  checked against proto/ as main has it at `landed`;
- otherwise (CI's clean checkout of main): the newest commit on main's first-parent line that
  changed proto/ is checked against its first parent, i.e. the contracts as they were before
  the last change that landed. A merge's first parent is main before the merge, so a merged
  branch is checked as a whole.

A deliberate break of a v1 contract does not land: add beside it, or start a v2 package.

main is the branch `main`, else `origin/main`, else HEAD (a detached checkout of main);
BREAKING_MAIN names another. A shallow clone lacks the history: it is deepened with
`git fetch --unshallow`, and where that fails the check fails saying so.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import codegen  # noqa: E402 - the third-party protos buf needs, from the same place

ROOT = codegen.ROOT
PROTO = "proto"


class Problem(Exception):
    """The check could not be made (not: the contracts broke)."""


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True)
    if check and done.returncode != 0:
        raise Problem(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done


def out(*args: str) -> str:
    return git(*args).stdout.decode().strip()


def resolves(ref: str) -> bool:
    return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode == 0


def ensure_history() -> None:
    if out("rev-parse", "--is-shallow-repository") != "true":
        return
    fetched = git("fetch", "--quiet", "--unshallow", check=False)
    if fetched.returncode != 0 or out("rev-parse", "--is-shallow-repository") == "true":
        raise Problem("this clone is shallow, and the baseline is in the history it lacks; `git fetch "
                      f"--unshallow` failed ({fetched.stderr.decode(errors='replace').strip() or 'no remote'}): "
                      "clone without --depth (CI: fetch-depth 0)")


def main_ref() -> str:
    named = os.environ.get("BREAKING_MAIN")
    if named:
        if not resolves(named):
            raise Problem(f"BREAKING_MAIN={named} names no commit here")
        return named
    return next(ref for ref in ("main", "origin/main", "HEAD") if resolves(ref))


def proto_changed_since(commit: str) -> bool:
    tracked = git("diff", "--quiet", commit, "--", PROTO, check=False).returncode != 0
    untracked = out("ls-files", "--others", "--exclude-standard", "--", PROTO)
    return tracked or bool(untracked)


def baseline() -> tuple[str | None, str]:
    """The commit whose proto/ is main's last landed contracts, and why (None: there are none)."""
    ensure_history()
    main = main_ref()
    landed = out("merge-base", "HEAD", main)
    if proto_changed_since(landed):
        return landed, f"proto/ as {main} has it where this checkout meets it"
    for commit in out("log", "--first-parent", "--format=%H", landed, "--", PROTO).split():
        parents = out("rev-list", "--parents", "-n", "1", commit).split()[1:]
        if not parents:
            return None, f"{commit[:9]} made the first contracts on {main}: none landed before them"
        if git("diff", "--quiet", parents[0], commit, "--", PROTO, check=False).returncode != 0:
            subject = out("log", "-1", "--format=%s", commit)[:72]
            return parents[0], f"the contracts before {main}'s last change to them, {commit[:9]} ({subject})"
    return None, f"no commit on {main} has contracts"


def contracts_at(commit: str, into: Path) -> None:
    """proto/ at `commit`, with today's buf.yaml and third-party protos, as a buf workspace."""
    archive = git("archive", "--format=tar", commit, "--", PROTO, check=False)
    if archive.returncode != 0:
        raise Problem(f"{commit[:9]} has no {PROTO}/: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    shutil.copy(ROOT / "buf.yaml", into / "buf.yaml")
    shutil.copytree(codegen.THIRD_PARTY, into / codegen.THIRD_PARTY.relative_to(ROOT))


def buf() -> str:
    beside = Path(sys.executable).parent / "buf"
    found = str(beside) if beside.exists() else shutil.which("buf")
    if not found:
        raise Problem("no buf: ./dev installs it (buf-bin) into .venv")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REF", help="check against proto/ at this commit instead")
    args = parser.parse_args()
    try:
        if args.against:
            if not resolves(args.against):
                raise Problem(f"--against {args.against} names no commit here")
            against, why = out("rev-parse", args.against), f"--against {args.against}"
        else:
            against, why = baseline()
        if against is None:
            print(f"buf breaking: nothing to compare against: {why}")
            return 0
        codegen.vendor_third_party()
        print(f"buf breaking: proto/ against {against[:9]}, {why}")
        with tempfile.TemporaryDirectory() as tmp:
            contracts_at(against, Path(tmp))
            done = subprocess.run([buf(), "breaking", str(ROOT), "--against", tmp], cwd=ROOT)
    except Problem as problem:
        print(f"buf breaking: cannot check: {problem}", file=sys.stderr)
        return 2
    if done.returncode != 0:
        print("buf breaking: the contracts above would break clients of what landed "
              "(add beside them instead, or start a v2 package)", file=sys.stderr)
        return 1
    print("buf breaking: no breaking change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
