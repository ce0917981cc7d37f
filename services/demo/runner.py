"""`copytrade up --demo`: the venue simulator on loopback (port base+7), the services pointed at
it, one master and three followers seeded through the public APIs, and a master bot trading,
so copies flow within seconds of start-up.

The launcher drives it: start_venue() before the services (they need its URL), seed() and
start_bot() once they serve, stop() after them."""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.discovery.v1 import discovery_service_pb2 as disc
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.risk.v1 import risk_service_pb2 as risk
from copytrade.type.v1 import trading_pb2
from services.demo.bot import MasterBot
from services.demo.seed import PERPETUAL, SPOT, Seeder
from services.demo.state import DemoState
from venue_sim import Simulator

SIM_PORT_OFFSET = 7  # after the gateway's HTTP port (base+6)
EMAIL_DOMAIN = "demo.example.com"
OPERATOR_EMAIL = f"ops@{EMAIL_DOMAIN}"
MASTER = "master"
# Copies on a loopback demo sharing a laptop with five services take a few hundred ms; the
# default 100 ms latency breaker would put every follower into reduce-only within a minute.
DEMO_MAX_LATENCY_MS = 3000


@dataclass(frozen=True)
class Person:
    name: str  # the email's local part and the simulator account's name
    plan: str  # one line for the banner
    perpetual: bool = False  # USDⓈ-M perpetuals, else spot
    balances: dict[str, str] = field(default_factory=dict)
    futures_wallet: str | None = None
    settings: rep.CopySettings | None = None  # None: the master

    @property
    def venue(self) -> trading_pb2.Venue:
        return PERPETUAL if self.perpetual else SPOT

    @property
    def email(self) -> str:
        return f"{self.name}@{EMAIL_DOMAIN}"


# The master keeps some BTC besides USDT so a sell never waits on the fee taken from a buy.
PEOPLE = (
    Person(MASTER, "master: a bot trades BTC/USDT every ~2 s", balances={"USDT": "100000", "BTC": "0.1"}),
    Person("alice", "follower, spot, multiplier 0.5", balances={"USDT": "50000"},
           settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5")),
    Person("bob", "follower, spot, fixed notional 200 USDT", balances={"USDT": "20000"},
           settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_NOTIONAL, fixed_notional="200")),
    Person("carol", "follower, USDⓈ-M perpetual BTC/USDT:USDT, equity-proportional", perpetual=True,
           futures_wallet="50000",
           settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_EQUITY_PROPORTIONAL, symbol_map=[
               rep.SymbolMapping(master_symbol="BTC/USDT", follower_symbol="BTC/USDT:USDT")])),
)


class Demo:
    def __init__(self, data_dir: Path, port_base: int) -> None:
        self.data_dir = data_dir.resolve()
        self.sim_port = port_base + SIM_PORT_OFFSET
        self.state: DemoState | None = None
        self.sim: Simulator | None = None
        self.bot: MasterBot | None = None

    async def start_venue(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state = DemoState.load(self.data_dir)
        # Ids continue from the clock: replication remembers the master's trade ids from earlier
        # runs and would take a reused one for a fill it has already copied.
        self.sim = await Simulator(port=self.sim_port, id_base=time.time_ns() // 1_000_000).start()
        for person in PEOPLE:
            api_key, secret = self.state.sim_keys(person.name)
            self.sim.create_account(person.name, person.balances, futures_wallet=person.futures_wallet,
                                    api_key=api_key, secret=secret)

    def environment(self) -> dict[str, str]:
        """What the services need besides the usual: the simulator's URL, and the demo operator."""
        operators = [e for e in os.environ.get("COPYTRADE_OPERATOR_EMAILS", "").split(",") if e.strip()]
        return {"VENUE_URLS": json.dumps({"binance": self.sim.url}),
                "VENUE_RATE_LIMIT": "false",  # the simulator has no rate limits; ccxt's would only add latency
                "COPYTRADE_OPERATOR_EMAILS": ",".join([*operators, OPERATOR_EMAIL])}

    def endpoints(self) -> dict[str, str]:
        return {"venue_sim": self.sim.url}

    async def seed(self, addresses: dict[str, str]) -> None:
        seeder = Seeder(addresses)
        try:
            operator = await seeder.user(OPERATOR_EMAIL, self.state.password, [comp.ROLE_FOLLOWER], "Demo Operator")
            if comp.ROLE_OPERATOR not in operator.roles:
                raise RuntimeError(f"{OPERATOR_EMAIL} is not an operator: it was registered before "
                                   "COPYTRADE_OPERATOR_EMAILS named it; use a fresh --data-dir")
            self.state.people["operator"] = {"email": OPERATOR_EMAIL, "user_id": operator.user_id}
            trader_id = ""
            for person in PEOPLE:  # the master first: followers follow its profile
                login, account = await self._enrol(seeder, operator, person)
                record = {"email": person.email, "user_id": login.user_id, "account_id": account.account_id}
                if person.settings is None:
                    trader_id = record["trader_id"] = (await seeder.master_profile(login, disc.MasterProfile(
                        display_name="Demo BTC Swing", strategy_type=disc.STRATEGY_TYPE_SWING,
                        risk_level=disc.RISK_LEVEL_MODERATE, bio="A bot trading small BTC/USDT swings.",
                        venues=[SPOT], master_account_ids=[account.account_id], public=True))).trader_id
                else:
                    await seeder.risk_limits(login, risk.RiskLimits(max_latency_ms=DEMO_MAX_LATENCY_MS),
                                             ["max_latency_ms"])
                    record["config_id"] = (await seeder.follow(login, trader_id, account.account_id,
                                                               person.settings)).config_id
                self.state.people[person.name] = record
                self.state.save()
        finally:
            await seeder.close()

    async def _enrol(self, seeder: Seeder, operator, person: Person):
        """A verified user with the simulator account's keys in the vault and a venue account."""
        is_master = person.settings is None
        login = await seeder.user(person.email, self.state.password,
                                  [comp.ROLE_MASTER if is_master else comp.ROLE_FOLLOWER], person.name.title())
        await seeder.verify(login, operator)
        api_key, secret = self.state.sim_keys(person.name)
        account = await seeder.venue_account(
            login, person.venue, api_key, secret, watch_fills=is_master,
            role=rep.ACCOUNT_ROLE_MASTER if is_master else rep.ACCOUNT_ROLE_FOLLOWER)
        return login, account

    def start_bot(self) -> None:
        api_key, secret = self.state.sim_keys(MASTER)
        self.bot = MasterBot(self.sim, MASTER, api_key, secret, say=lambda line: print(line, flush=True))
        self.bot.start()

    async def stop_bot(self) -> None:
        if self.bot:
            await self.bot.stop()
            self.bot = None

    async def stop(self) -> None:
        await self.stop_bot()
        if self.sim:
            await self.sim.stop()

    def banner(self, endpoints: dict[str, str]) -> str:
        http, people = endpoints.get("http", ""), self.state.people
        master = people[MASTER]
        login_body = json.dumps({"email": master["email"], "password": self.state.password})
        lines = [
            "",
            "demo: a master bot trades on the venue simulator; three followers copy it.",
            f"  web / REST     {http}",
            f"  venue (sim)    {self.sim.url}   what really reached the venue: "
            f"curl {self.sim.url}/_sim/accounts/alice/orders",
            f"  logins (password {self.state.password}):",
        ]
        for person in PEOPLE:
            lines.append(f"    {person.email:<24} {person.plan}")
        lines.append(f"    {OPERATOR_EMAIL:<24} operator (KYC decisions, audit trail)")
        bearer = '"Authorization: Bearer $TOKEN"'
        token_of = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"accessToken\"])'"
        stream_request = shlex.quote(json.dumps({"master_id": master["user_id"]}))
        lines += [
            "  watch the copies of the master's trades (Server-Sent Events):",
            f"    TOKEN=$(curl -s -X POST {http}/v1/auth:login -H 'Content-Type: application/json' "
            f"-d {shlex.quote(login_body)} | {token_of})",
            f"    curl -sN -H {bearer} '{http}/v1/copy-events:stream?masterId={master['user_id']}'",
            "  or over gRPC:",
            f"    grpcurl -plaintext -H {bearer} -d {stream_request} {endpoints['replication']} "
            "copytrade.replication.v1.ReplicationService/StreamCopyEvents",
            f"  leaderboard: curl -s -H {bearer} {http}/api/master-traders",
            f"  (ids in {self.state.path})",
        ]
        return "\n".join(lines)
