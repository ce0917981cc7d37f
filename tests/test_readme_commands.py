"""The commands README.md and the `up` banner print work as printed: `copytrade` and `grpcurl`
live in .venv/bin, which `./dev` uses without putting it on PATH, so a bare `copytrade` or
`grpcurl` is "command not found" to a newcomer."""

import re
import shlex
import subprocess
from pathlib import Path

from services import launcher

README = Path(__file__).resolve().parents[1] / "README.md"
TOOL = re.compile(r"(?<![\w./-])(copytrade|grpcurl) ")


def unprefixed(text: str) -> list[str]:
    """Each `copytrade`/`grpcurl` command in text not run as `./dev …` (or `.venv/bin/…`)."""
    return [text[max(0, m.start() - 30):m.end() + 20] for m in TOOL.finditer(text)
            if not text[:m.start()].endswith("./dev ")]


def test_readme_runs_copytrade_and_grpcurl_through_dev():
    text = README.read_text()
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    tour = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    spans = "\n".join(re.findall(r"`([^`]+)`", tour))
    assert unprefixed(shell) == [] and unprefixed(spans) == []


def test_the_up_banner_prints_a_grpcurl_that_runs_without_the_venv_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # what `./dev up` leaves: .venv/bin is not on it
    banner = launcher.ready_banner({"risk": "127.0.0.1:15053"}, tmp_path, None)
    line = next(line for line in banner.splitlines() if "grpcurl" in line)
    command = shlex.split(line.removeprefix("try: "))
    assert command[1:4] == ["-plaintext", "127.0.0.1:15053", "list"], line
    version = subprocess.run([command[0], "-version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "grpcurl" in version.stdout + version.stderr, line


def test_every_dev_command_the_readme_prints_is_one_dev_runs():
    text = README.read_text()
    cases = set(re.findall(r"^  ([a-z]+)\)", (README.parent / "dev").read_text(), re.M))
    assert set(re.findall(r"\./dev ([a-z]+)", text)) <= cases
