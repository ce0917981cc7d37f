"""The `copytrade` command's development commands are plugins (services/cli.py): `sim` from the
venue simulator, `up --demo` from the demo, each declared in pyproject.toml's
"copytrade.commands" entry points. Where they are installed the command offers them; where they
are not (the service image) it runs without them, and knows nothing of them."""

import json
import signal
import subprocess
import sys
import urllib.request

from tests.checkout import checkout_env
from tests.test_boundaries import BLOCKER


def test_copytrade_sim_runs_the_simulator_through_its_entry_point(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "sim", "--port", "0", "--tick", "0",
                                "--history-hours", "0", "--account", "alice:USDT=5"],
                               env=checkout_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        keys = json.loads(process.stdout.readline())
        assert url.startswith("http://127.0.0.1:") and keys["account"] == "alice" and keys["api_key"]
        with urllib.request.urlopen(f"{url}/api/v3/ping", timeout=10) as reply:  # Binance's own ping
            assert json.loads(reply.read()) == {}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read()


def commands_in(help_text: str) -> set[str]:
    """The subcommands a usage line offers: `usage: copytrade [-h] {up,serve,...} ...`."""
    return set(help_text.split("{", 1)[1].split("}", 1)[0].split(","))


def test_up_offers_demo_where_the_demo_is_installed(tmp_path):
    env = checkout_env(tmp_path)
    helped = subprocess.run([sys.executable, "-m", "services.cli", "--help"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert "sim" in commands_in(helped.stdout), helped.stderr
    shown = subprocess.run([sys.executable, "-m", "services.cli", "up", "--help"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0 and "--demo" in shown.stdout, shown.stderr
    alone = subprocess.run([sys.executable, "-m", "demo", "--help"], env=env, capture_output=True, text=True,
                           timeout=60)  # `python -m demo` is `copytrade up --demo`, entry points or not
    assert alone.returncode == 0 and "--demo" in alone.stdout and "--port-base" in alone.stdout, alone.stderr


def test_without_the_simulator_and_the_demo_the_command_runs_and_offers_neither(tmp_path):
    """The service image: the entry points are declared, their packages absent."""
    def copytrade(*args: str) -> subprocess.CompletedProcess:
        code = BLOCKER + f"import runpy; sys.argv = ['copytrade', *{list(args)!r}]; " \
                         "runpy.run_module('services.cli', run_name='__main__')"
        return subprocess.run([sys.executable, "-c", code], env=checkout_env(tmp_path), capture_output=True,
                              text=True, timeout=60)

    helped = copytrade("--help")
    assert helped.returncode == 0 and {"up", "serve"} <= commands_in(helped.stdout) and "sim" not in commands_in(
        helped.stdout)
    assert "--demo" not in copytrade("up", "--help").stdout
    refused = copytrade("sim")
    assert refused.returncode == 2 and "invalid choice: 'sim'" in refused.stderr
    assert copytrade("serve", "--help").returncode == 0
