"""The operator's `copytrade kill-switch` against a real risk server: the platform-wide switch
halts every follower, so it is never the default — it takes `--all` and a typed confirmation
(or `--all --yes` in a script). One user's switch needs neither."""

import asyncio
import json
import os
import subprocess
import sys
import uuid

from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import auth
from tests.conftest import TEST_SECRET


async def cli(data_dir, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """The real command in a subprocess (asyncio's, so the server in this loop keeps answering)."""
    token, _ = auth.issue_token(TEST_SECRET, "op_cli", [auth.ROLE_OPERATOR])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args, "--data-dir", str(data_dir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COPYTRADE_TOKEN": token})
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode, out.decode(), err.decode()


async def platform_state(risk: RiskServiceStub, metadata) -> pb.GetTradingStateResponse:
    return await risk.GetTradingState(pb.GetTradingStateRequest(scope=pb.TradingScope()), metadata=metadata)


async def test_the_platform_kill_switch_needs_all_and_a_typed_confirmation(start_service, token_for, tmp_path):
    risk_svc = await start_service("risk")
    (tmp_path / "endpoints.json").write_text(json.dumps({"risk": risk_svc.address}))
    risk = RiskServiceStub(risk_svc.channel)
    operator = token_for("op_cli", auth.ROLE_OPERATOR)

    # No --user and no --all: refused before anything is sent, the platform keeps trading.
    code, out, err = await cli(tmp_path, "kill-switch", "on")
    assert code != 0 and "--all" in err and "--user" in err, (out, err)
    assert not (await platform_state(risk, operator)).state.kill_switch_active
    # --yes is a script's confirmation of --all, not a way around it; --user and --all exclude.
    code, _, err = await cli(tmp_path, "kill-switch", "on", "--yes")
    assert code != 0 and "--all" in err
    code, _, err = await cli(tmp_path, "kill-switch", "on", "--all", "--user", "u1")
    assert code != 0
    # --all with the wrong words typed (or none): nothing happens.
    for typed in ("", "yes\n", "halt\n"):
        code, out, err = await cli(tmp_path, "kill-switch", "on", "--all", stdin=typed)
        assert code != 0 and "not halted" in err, (typed, out, err)
    assert not (await platform_state(risk, operator)).state.kill_switch_active

    # --all and the words typed: the whole platform halts.
    code, out, err = await cli(tmp_path, "kill-switch", "on", "--all", "--reason", "drill", stdin="HALT ALL\n")
    assert code == 0, err
    assert "type HALT ALL" in out and "platform: HALTED (kill switch on)" in out
    assert (await platform_state(risk, operator)).state.kill_switch_active
    # Resuming the platform also names it (--all), but needs no confirmation.
    code, _, err = await cli(tmp_path, "kill-switch", "off")
    assert code != 0 and "--all" in err
    assert (await platform_state(risk, operator)).state.kill_switch_active
    code, out, err = await cli(tmp_path, "kill-switch", "off", "--all")
    assert code == 0 and "platform: ACTIVE" in out, err
    # A script: --all --yes.
    code, out, err = await cli(tmp_path, "kill-switch", "on", "--all", "--yes")
    assert code == 0 and "platform: HALTED" in out, err
    await cli(tmp_path, "kill-switch", "off", "--all")

    # One user's switch needs neither, and leaves the platform alone.
    user = f"u_{uuid.uuid4().hex[:8]}"
    code, out, err = await cli(tmp_path, "kill-switch", "on", "--user", user)
    assert code == 0 and f"{user}: HALTED (kill switch on)" in out, err
    scoped = await risk.GetTradingState(pb.GetTradingStateRequest(scope=pb.TradingScope(user_id=user)),
                                        metadata=operator)
    assert scoped.effective_state == trading_pb2.TRADING_STATE_HALTED
    assert not (await platform_state(risk, operator)).state.kill_switch_active


def test_the_feed_says_what_reduced_a_copy_and_why_a_resting_copy_was_canceled():
    """`copytrade feed`'s outcome column: a copy a limit made smaller says from what and which
    limit; a canceled resting copy says why (it used to end the feed with a KeyError)."""
    from copytrade.replication.v1 import replication_events_pb2 as events
    from services.ops import _describe

    reduced = events.FollowerOrder(follower_id="usr_1", symbol="BTC/USDT", side=trading_pb2.SIDE_BUY, quantity="0.01562",
                                   reduction=trading_pb2.Refusal(reason="LEVERAGE_LIMIT_EXCEEDED",
                                                                 metadata={"sized_quantity": "0.05"}))
    filled = events.CopyEvent(event_id="e1", filled=events.FollowerOrderFilled(order=reduced))
    assert _describe(filled)[5] == "filled (reduced from 0.05: LEVERAGE_LIMIT_EXCEEDED)"
    canceled = events.CopyEvent(event_id="e2", canceled=events.FollowerOrderCanceled(
        order=events.FollowerOrder(follower_id="usr_1"), reason="the master canceled its order"))
    assert _describe(canceled)[5] == "canceled: the master canceled its order"


def run_detached(data_dir, *args: str, stdout) -> subprocess.CompletedProcess:
    """The command with stdin from /dev/null and no controlling terminal (its own session), as
    from cron, CI or a pipe."""
    return subprocess.run([sys.executable, "-m", "services.cli", *args, "--data-dir", str(data_dir)],
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60,
                          start_new_session=True, env={**os.environ, "COPYTRADE_TOKEN": "t"})


def test_a_reader_that_went_away_stops_the_feed_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)  # `copytrade feed | head` once head has its lines
    try:
        done = run_detached(tmp_path, "feed", stdout=write)
    finally:
        os.close(write)
    assert done.returncode in (0, 141) and done.stderr == "", done.stderr


def test_a_password_prompt_without_a_terminal_says_so_in_one_line(tmp_path):
    done = run_detached(tmp_path, "login", "ops@example.com", stdout=subprocess.PIPE)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "--password-stdin" in done.stderr, done.stderr
