"""`copytrade up --demo`: the venue simulator on loopback (port base+7), the services pointed at
it, five masters (each with weeks of earlier trades) and three followers seeded through the
public APIs, and two masters' bots trading, so copies flow within seconds of start-up.

The launcher drives it as the mesh's companion (services.launcher.Companion): start() before the
services (they need the simulator's URL), seed() and start_traffic() once they serve, stop()
after them. `copytrade up --demo` (demo.cli) hands it to the launcher."""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.discovery.v1 import discovery_service_pb2 as disc
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.risk.v1 import risk_service_pb2 as risk
from copytrade.type.v1 import trading_pb2
from demo.bot import MasterBot
from demo.history import Style, history
from demo.seed import FUTURES, PERPETUAL, SPOT, Seeder
from demo.state import DemoState
from services.kit import tls
from services.kit.config import TlsFiles
from venue_sim import Simulator, venue_urls

SIM_PORT_OFFSET = 7  # after the gateway's HTTP port (base+6)
DEMO_HISTORY_HOURS = 72  # hourly prices from before start-up, for risk's 48-hour windows
EMAIL_DOMAIN = "demo.example.com"
OPERATOR_EMAIL = f"ops@{EMAIL_DOMAIN}"
MASTER = "master"
# Copies on a loopback demo sharing a laptop with five services take a few hundred ms; the
# default 100 ms latency breaker would put every follower into reduce-only within a minute.
DEMO_MAX_LATENCY_MS = 3000
HISTORY_ENDS_BEFORE = timedelta(minutes=30)  # the past ends a little before the live trading starts


@dataclass(frozen=True)
class MasterPlan:
    """A master's public profile, the instrument their past trades are in, and how they traded."""

    display_name: str
    strategy: int
    risk: int
    bio: str
    symbol: str
    style: Style
    seed: int  # of their history: the same trades on every run
    lot: Decimal
    end_price: Decimal  # where their history's prices end: the simulator's price now
    equity: Decimal
    live: bool = False  # a bot trades their simulator account while the demo runs
    bot_sizes: tuple[Decimal, ...] = ()
    bot_interval_s: float = 2.0


@dataclass(frozen=True)
class Person:
    name: str  # the email's local part and the simulator account's name
    plan: str  # one line for the banner
    perpetual: bool = False  # USDⓈ-M perpetuals, else spot
    futures: bool = False  # the master's venue is a futures market
    balances: dict[str, str] = field(default_factory=dict)
    futures_wallet: str | None = None
    master: MasterPlan | None = None  # None: a follower
    follows: tuple[tuple[str, rep.CopySettings], ...] = ()  # (master's name, settings)

    @property
    def venue(self) -> trading_pb2.Venue:
        return FUTURES if self.futures else PERPETUAL if self.perpetual else SPOT

    @property
    def email(self) -> str:
        return f"{self.name}@{EMAIL_DOMAIN}"


D = Decimal
# Five masters across strategies, risk levels and venues, each with weeks of earlier trades;
# two of them trade live. The masters keep some of the base asset besides USDT so a sell never
# waits on the fee taken from a buy.
PEOPLE = (
    Person(MASTER, "master: Demo BTC Swing, a bot trades BTC/USDT every ~2 s", balances={"USDT": "100000", "BTC": "0.1"},
           master=MasterPlan("Demo BTC Swing", disc.STRATEGY_TYPE_SWING, disc.RISK_LEVEL_MODERATE,
                             "BTC swings of a few hours to a day, long only, a third of the book at a time.",
                             "BTC/USDT", Style(21, 2, 10, 0.6, False, D("0.3"), 0.004), 1, D("0.00001"), D("64000"),
                             # big enough that carol's equity-proportional perpetual copy (about half)
                             # clears BTCUSDT's 100 USDT minimum notional, as on Binance
                             D("25000"), live=True, bot_sizes=(D("0.02"), D("0.03"), D("0.01")))),
    Person("sol", "master: SOL Day Trader, a bot trades SOL/USDT every ~6 s", balances={"USDT": "50000", "SOL": "20"},
           master=MasterPlan("SOL Day Trader", disc.STRATEGY_TYPE_DAY_TRADING, disc.RISK_LEVEL_MODERATE,
                             "Intraday SOL moves, flat by the evening.", "SOL/USDT",
                             Style(14, 3, 4, 0.55, False, D("0.25"), 0.006), 1, D("0.001"), D("150"), D("20000"),
                             live=True, bot_sizes=(D("0.5"), D("1.2"), D("0.8")), bot_interval_s=6.0)),
    Person("eth", "master: ETH Trend Rider (history only)", balances={"USDT": "50000"},
           master=MasterPlan("ETH Trend Rider", disc.STRATEGY_TYPE_POSITION, disc.RISK_LEVEL_CONSERVATIVE,
                             "Holds ETH for days when the trend is up; sits out the rest.", "ETH/USDT",
                             Style(45, 0.4, 72, 0.6, False, D("0.5"), 0.003), 6, D("0.0001"), D("3200"), D("40000"))),
    Person("perp", "master: BTC Perp Scalper (history only)", perpetual=True, futures_wallet="50000",
           master=MasterPlan("BTC Perp Scalper", disc.STRATEGY_TYPE_SCALPING, disc.RISK_LEVEL_AGGRESSIVE,
                             "Minutes-long BTC perpetual trades, long and short.", "BTC/USDT:USDT",
                             Style(7, 10, 0.75, 0.75, True, D("0.4"), 0.004), 6, D("0.001"), D("64000"), D("30000"))),
    Person("futures", "master: Quarterly BTC Futures (history only)", futures=True,
           master=MasterPlan("Quarterly BTC Futures", disc.STRATEGY_TYPE_SWING, disc.RISK_LEVEL_AGGRESSIVE,
                             "BTC quarterly futures, both ways, held a day or two.", "BTC/USDT:USDT-261225",
                             Style(30, 0.7, 30, 0.5, True, D("0.6"), 0.004), 2, D("0.001"), D("64500"), D("50000"))),
    Person("alice", "follower, spot: Demo BTC Swing at 0.5×", balances={"USDT": "50000"},
           follows=((MASTER, rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5")),)),
    Person("bob", "follower, spot: Demo BTC Swing at 200 USDT a trade, SOL Day Trader at 100", balances={"USDT": "20000"},
           follows=((MASTER, rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_NOTIONAL, fixed_notional="200")),
                    ("sol", rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_NOTIONAL, fixed_notional="100")))),
    Person("carol", "follower, USDⓈ-M perpetual BTC/USDT:USDT, equity-proportional", perpetual=True,
           futures_wallet="50000",
           follows=((MASTER, rep.CopySettings(sizing_mode=rep.SIZING_MODE_EQUITY_PROPORTIONAL, symbol_map=[
               rep.SymbolMapping(master_symbol="BTC/USDT", follower_symbol="BTC/USDT:USDT")])),)),
)


class Demo:
    def __init__(self, data_dir: Path, port_base: int) -> None:
        self.data_dir = data_dir.resolve()
        self.sim_port = port_base + SIM_PORT_OFFSET
        self.state: DemoState | None = None
        self.sim: Simulator | None = None
        self.bots: list[MasterBot] = []

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state = DemoState.load(self.data_dir)
        # Ids continue from the clock: replication remembers the master's trade ids from earlier
        # runs and would take a reused one for a fill it has already copied.
        # Three days of prices from before start-up: risk judges volatility and correlation at once.
        self.sim = await Simulator(port=self.sim_port, id_base=time.time_ns() // 1_000_000,
                                   history_hours=DEMO_HISTORY_HOURS).start()
        for person in PEOPLE:
            api_key, secret = self.state.sim_keys(person.name)
            self.sim.create_account(person.name, person.balances, futures_wallet=person.futures_wallet,
                                    api_key=api_key, secret=secret)

    def ports(self) -> dict[int, str]:
        return {self.sim_port: "the demo's venue simulator"}

    def environment(self) -> dict[str, str]:
        """What the services need besides the usual: the simulator's URL, and the demo operator."""
        operators = [e for e in os.environ.get("COPYTRADE_OPERATOR_EMAILS", "").split(",") if e.strip()]
        return {"VENUE_URLS": json.dumps(venue_urls(self.sim.url)),  # ccxt's binance URLs, on the simulator
                "VENUE_RATE_LIMIT": "false",  # the simulator has no rate limits; ccxt's would only add latency
                "COPYTRADE_OPERATOR_EMAILS": ",".join([*operators, OPERATOR_EMAIL])}

    def endpoints(self) -> dict[str, str]:
        return {"venue_sim": self.sim.url}

    async def seed(self, addresses: dict[str, str], tls_files: TlsFiles | None = None) -> None:
        seeder = Seeder(addresses, tls_files)
        try:
            operator = await seeder.user(OPERATOR_EMAIL, self.state.password, [comp.ROLE_FOLLOWER], "Demo Operator")
            if comp.ROLE_OPERATOR not in operator.roles:
                raise RuntimeError(f"{OPERATOR_EMAIL} is not an operator: it was registered before "
                                   "COPYTRADE_OPERATOR_EMAILS named it; use a fresh --data-dir")
            self.state.people["operator"] = {"email": OPERATOR_EMAIL, "user_id": operator.user_id}
            for person in PEOPLE:  # the masters first: followers follow their profiles
                login, account = await self._enrol(seeder, operator, person)
                record = {**self.state.people.get(person.name, {}), "email": person.email,
                          "user_id": login.user_id, "account_id": account.account_id}
                if person.master is not None:
                    record.update(await self._publish_master(seeder, login, person, account))
                else:
                    await seeder.risk_limits(login, risk.RiskLimits(max_latency_ms=DEMO_MAX_LATENCY_MS),
                                             ["max_latency_ms"])
                    configs = {}
                    for master, settings in person.follows:
                        configs[master] = (await seeder.follow(login, self.state.people[master]["trader_id"],
                                                               account.account_id, settings, master)).config_id
                    record["config_ids"] = configs
                    record["config_id"] = next(iter(configs.values()))
                self.state.people[person.name] = record
                self.state.save()
        finally:
            await seeder.close()

    async def _publish_master(self, seeder: Seeder, login, person: Person, account) -> dict[str, str]:
        """The master's profile, showing their live account and the account of their earlier
        trades. Followers copy the live one (the first), so none of the past is copied."""
        plan = person.master
        past = await seeder.venue_account(login, person.venue, *self.state.sim_keys(person.name),
                                          role=rep.ACCOUNT_ROLE_MASTER, label="earlier trades")
        record = {"history_account_id": past.account_id}
        if not self.state.people.get(person.name, {}).get("history_seeded"):
            fills = history(plan.seed, plan.style, end_price=plan.end_price, lot=plan.lot, equity=plan.equity,
                            now=datetime.now(UTC) - HISTORY_ENDS_BEFORE)
            await seeder.past_fills(login, past.account_id, plan.symbol, fills)
            record["history_seeded"] = "yes"
        record["trader_id"] = (await seeder.master_profile(login, disc.MasterProfile(
            display_name=plan.display_name, strategy_type=plan.strategy, risk_level=plan.risk, bio=plan.bio,
            venues=[person.venue], master_account_ids=[account.account_id, past.account_id], public=True))).trader_id
        return record

    async def _enrol(self, seeder: Seeder, operator, person: Person):
        """A verified user with the simulator account's keys in the vault and a venue account."""
        is_master = person.master is not None
        login = await seeder.user(person.email, self.state.password,
                                  [comp.ROLE_MASTER if is_master else comp.ROLE_FOLLOWER],
                                  person.master.display_name if is_master else person.name.title())
        await seeder.verify(login, operator)
        api_key, secret = self.state.sim_keys(person.name)
        account = await seeder.venue_account(
            login, person.venue, api_key, secret, watch_fills=is_master and person.master.live,
            role=rep.ACCOUNT_ROLE_MASTER if is_master else rep.ACCOUNT_ROLE_FOLLOWER)
        return login, account

    def start_traffic(self) -> None:
        for person in PEOPLE:
            if person.master is None or not person.master.live:
                continue
            api_key, secret = self.state.sim_keys(person.name)
            bot = MasterBot(self.sim, person.name, api_key, secret, symbol=person.master.symbol,
                            sizes=person.master.bot_sizes, anchor=person.master.end_price,
                            interval_s=person.master.bot_interval_s, say=lambda line: print(line, flush=True))
            bot.start()
            self.bots.append(bot)

    async def stop_traffic(self) -> None:
        for bot in self.bots:
            await bot.stop()
        self.bots = []

    async def stop(self) -> None:
        await self.stop_traffic()
        if self.sim:
            await self.sim.stop()

    def banner(self, endpoints: dict[str, str], tls_files: TlsFiles | None = None) -> str:
        http, people = endpoints.get("http", ""), self.state.people
        master = people[MASTER]
        login_body = json.dumps({"email": master["email"], "password": self.state.password})
        lines = [
            "",
            "demo: five masters with weeks of trades on the leaderboard, two of them trading live on the venue "
            "simulator; three followers copy them.",
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
            f"    {tls.grpcurl_command(tls_files)} -H {bearer} -d {stream_request} {endpoints['replication']} "
            "copytrade.replication.v1.ReplicationService/StreamCopyEvents",
            f"  leaderboard: curl -s -H {bearer} {http}/api/master-traders",
            f"  (ids in {self.state.path})",
        ]
        return "\n".join(lines)
