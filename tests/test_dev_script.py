"""`./dev`'s first run installs for a minute or more: it says so, on stderr (stdout is the
command's), and keeps pip's output in .venv/pip.log, shown only when the install fails. Run here
on a copy of the script with a stand-in python whose pip only makes noise."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE_PYTHON = """#!/bin/sh
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
  printf '#!/bin/sh\\necho "copytrade $*"\\n' > "$3/bin/copytrade" && chmod +x "$3/bin/copytrade"
elif [ "$1 $2" = "-m pip" ]; then
  echo "Collecting ccxt (pip noise)"; echo "WARNING: pip noise" >&2; exit "${FAKE_PIP_STATUS:-0}"
fi
"""


def dev(tmp_path: Path, *args: str, pip_status: int = 0) -> subprocess.CompletedProcess:
    checkout = tmp_path / "checkout"
    (checkout / "api" / "python").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dev", checkout / "dev")
    for pyproject in ("pyproject.toml", "api/python/pyproject.toml"):
        shutil.copy(ROOT / pyproject, checkout / pyproject)
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return subprocess.run([str(checkout / "dev"), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": str(python), "FAKE_PIP_STATUS": str(pip_status)})


def test_the_first_run_says_what_it_installs_and_keeps_pip_in_a_log(tmp_path):
    done = dev(tmp_path, "copytrade", "--version")
    assert done.returncode == 0 and done.stdout == "copytrade --version\n", done
    assert "installing" in done.stderr and ".venv/pip.log" in done.stderr and "pip noise" not in done.stderr
    assert "pip noise" in (tmp_path / "checkout" / ".venv" / "pip.log").read_text()
    again = dev(tmp_path, "copytrade", "--version")
    assert again.stderr == "", "installed already: nothing to say"


def test_a_failed_install_shows_the_end_of_its_log(tmp_path):
    done = dev(tmp_path, "copytrade", "--version", pip_status=1)
    assert done.returncode != 0 and "pip noise" in done.stderr and ".venv/pip.log" in done.stderr, done
