"""`copytrade up --demo` from the outside: the mesh, the venue simulator, five seeded masters
with weeks of trades across strategies, risk levels and venues, three followers, two masters'
bots trading. Within seconds every follower's copies are at the venue (asked of the
simulator, not our database), a demo login works over REST and sees them and the leaderboard
a real platform would show, and Ctrl-C stops everything cleanly."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.checkout import checkout_env
from services.kit.natsd import free_port_block

READY_TIMEOUT_S = 240  # the services starting and the masters' weeks of trades seeded, on a busy machine
COPIES_TIMEOUT_S = 30
# Simulator account → its market: carol copies onto USDⓈ-M perpetuals.
FOLLOWERS = {"alice": "spot", "bob": "spot", "carol": "futures"}


def get_json(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def post_json(url: str, body: dict):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def venue_orders(sim_url: str) -> dict[str, list[dict]] | None:
    """Every follower's orders at the simulator, once each has at least one."""
    orders = {name: get_json(f"{sim_url}/_sim/accounts/{name}/orders?market={market}")
              for name, market in FOLLOWERS.items()}
    return orders if all(orders.values()) else None


def poll(check, timeout: float, what: str, process: subprocess.Popen, output: Path):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process.poll() is not None:
            pytest.fail(f"copytrade up --demo exited early:\n{output.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout}s:\n{output.read_text()}")
        time.sleep(0.2)


class Demo:
    """One `copytrade up --demo` process, its output in a file (not a pipe: the bot prints a
    line per trade and nobody reads a pipe meanwhile)."""

    def __init__(self, data_dir: Path, port_base: int, output: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MASTER_KEY", "JWT_SECRET")}
        env = checkout_env(output.parent / f"{output.stem}-install", env)  # `up --demo` is a plugin (demo.cli)
        self.data_dir, self.output = data_dir, output
        with open(output, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "up", "--demo", "--data-dir", str(data_dir),
                 "--port-base", str(port_base)], env=env, stdout=out, stderr=subprocess.STDOUT)

    def poll(self, check, timeout: float, what: str):
        return poll(check, timeout, what, self.process, self.output)

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        return self.process.returncode, self.output.read_text()


def copies_everywhere(demo: Demo, port_base: int) -> dict:
    """Wait for the bot's first trade, then for a copy at the venue for every follower."""
    demo.poll(lambda: "master bot:" in demo.output.read_text(), READY_TIMEOUT_S, "the demo seeded and trading")
    endpoints = json.loads((demo.data_dir / "endpoints.json").read_text())
    assert endpoints["venue_sim"] == f"http://127.0.0.1:{port_base + 7}"
    started = time.monotonic()
    orders = demo.poll(lambda: venue_orders(endpoints["venue_sim"]), COPIES_TIMEOUT_S,
                       "a copy at the venue for every follower")
    print(f"every follower's copy at the venue {time.monotonic() - started:.1f}s after the master's first trade")
    for name, placed in orders.items():
        assert placed[0]["side"] == "BUY", name  # the bot opens with a buy
    assert all(o["symbol"] == "BTCUSDT" for o in orders["carol"])  # mapped onto the perpetual
    return endpoints


def test_up_demo_copies_to_every_follower_within_seconds_and_restarts_on_its_data(tmp_path):
    port_base = free_port_block()  # the simulator takes base+7
    data_dir = tmp_path / "data"
    demo = Demo(data_dir, port_base, tmp_path / "first.out")
    try:
        endpoints = copies_everywhere(demo, port_base)
        # A demo login, as printed, sees the copies through the REST gateway, and the master
        # is on the leaderboard.
        seeded = json.loads((data_dir / "demo.json").read_text())
        banner = demo.output.read_text()
        assert seeded["password"] in banner and "alice@demo.example.com" in banner
        assert "copy-events:stream" in banner and "StreamCopyEvents" in banner
        login = post_json(f"{endpoints['http']}/v1/auth:login",
                          {"email": "alice@demo.example.com", "password": seeded["password"]})
        demo.poll(lambda: any(o["status"] == "FOLLOWER_ORDER_STATUS_FILLED" for o in get_json(
            f"{endpoints['http']}/v1/follower-orders", login["accessToken"])["orders"]), 10,
            "alice's filled copy over REST")
        traders = get_json(f"{endpoints['http']}/api/master-traders", login["accessToken"])["traders"]
        assert seeded["people"]["master"]["trader_id"] in [t["traderId"] for t in traders]
        # Five masters, every strategy and risk level, spot, perpetual and futures venues, each
        # with days of trades behind them.
        assert len(traders) == 5
        assert {t["strategyType"] for t in traders} == {"STRATEGY_TYPE_SCALPING", "STRATEGY_TYPE_DAY_TRADING",
                                                         "STRATEGY_TYPE_SWING", "STRATEGY_TYPE_POSITION"}
        assert {t["riskLevel"] for t in traders} == {"RISK_LEVEL_CONSERVATIVE", "RISK_LEVEL_MODERATE",
                                                     "RISK_LEVEL_AGGRESSIVE"}
        assert {v["marketType"] for t in traders for v in t["venues"]} == {
            "MARKET_TYPE_SPOT", "MARKET_TYPE_PERPETUAL", "MARKET_TYPE_FUTURE"}
        assert all(t["stats"]["trackRecordDays"] >= 6 and int(t["stats"]["tradeCount"]) >= 10 for t in traders)
        # The copied master's copiers' PnL: what its followers made after the venue's fees.
        swing = seeded["people"]["master"]["trader_id"]
        demo.poll(lambda: get_json(f"{endpoints['http']}/v1/master-profiles/{swing}/stats",
                                   login["accessToken"])["stats"].get("copiersPnl"), 90, "the copiers' PnL")
    finally:
        code, output = demo.interrupt()
    assert code == 0 and "stopping" in output, output

    # Again on the same data: nothing is seeded twice, and a fresh simulator copies again.
    demo = Demo(data_dir, port_base, tmp_path / "second.out")
    try:
        copies_everywhere(demo, port_base)
        assert json.loads((data_dir / "demo.json").read_text())["people"] == seeded["people"]
    finally:
        code, output = demo.interrupt()
    assert code == 0, output


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "services.cli", *args, "--data-dir", str(data_dir)], input=stdin,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_operator_cli_on_the_demo(tmp_path):
    port_base = free_port_block()
    data_dir = tmp_path / "data"
    demo = Demo(data_dir, port_base, tmp_path / "demo.out")
    feed = None
    try:
        copies_everywhere(demo, port_base)
        seeded = json.loads((data_dir / "demo.json").read_text())
        alice = seeded["people"]["alice"]
        assert "logged in" in cli(data_dir, "login", seeded["people"]["operator"]["email"], "--password-stdin",
                                  stdin=seeded["password"] + "\n")
        assert f"session {alice['config_id']}" in cli(data_dir, "positions", alice["config_id"])
        retries = cli(data_dir, "retries")
        assert retries.startswith("error") or "nothing waits" in retries
        with open(tmp_path / "feed.out", "w") as out:
            feed = subprocess.Popen([sys.executable, "-m", "services.cli", "feed", "--follower", alice["user_id"],
                                     "--data-dir", str(data_dir)], stdout=out, stderr=subprocess.STDOUT)
        assert "HALTED (kill switch on)" in cli(data_dir, "kill-switch", "on", "--user", alice["user_id"],
                                                "--reason", "demo check")
        # The bot's next trade reaches alice's feed as a refusal, in words.
        poll(lambda: "refused: TRADING_HALTED" in (tmp_path / "feed.out").read_text(), 30,
             "the refusal in the feed", demo.process, tmp_path / "feed.out")
        assert "ACTIVE" in cli(data_dir, "kill-switch", "off", "--user", alice["user_id"])
    finally:
        if feed is not None:
            feed.terminate()
            feed.wait(timeout=10)
        code, output = demo.interrupt()
    assert code == 0, output


def test_a_masters_history_is_the_same_on_every_run_and_ends_at_todays_price():
    from datetime import UTC, datetime
    from decimal import Decimal

    from demo.history import FEE_RATE, Style, history, price_path

    style = Style(days=10, round_trips_per_day=2, hold_hours=6, edge=0.6, shorts=True, risk_fraction=Decimal("0.3"),
                  hourly_volatility=0.004)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    first = history(4, style, end_price=Decimal("64000"), lot=Decimal("0.001"), equity=Decimal("25000"), now=now)
    assert first == history(4, style, end_price=Decimal("64000"), lot=Decimal("0.001"), equity=Decimal("25000"),
                            now=now)  # the same ids and trades: a second `up --demo` adds none
    assert price_path(4, 240, Decimal("64000"), 0.004)[-1] == Decimal("64000")
    assert len({f.trade_id for f in first}) == len(first) >= 10
    assert all(f.time < now and f.quantity > 0 and f.fee == (f.quantity * f.price * FEE_RATE).quantize(Decimal("0.0001"))
               for f in first)
    assert [f.time for f in first] == sorted(f.time for f in first)
    assert {f.side for f in first} == {"buy", "sell"}
