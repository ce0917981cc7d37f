"""Statistics kept current as fills arrive, and rankings that hold still while paged.

Each master fill seen on NATS is stored once; within STATS_REFRESH_S the statistics of every
profile that shows its account are recomputed for every window and stored, so a request only
reads them. A
ranking is computed when its first page is asked for and kept (RANKING_TTL); the page token
points into it."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from copytrade.discovery.v1 import discovery_service_pb2 as pb
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.discovery import preview, stats
from services.domain import sizing
from services.domain.risk.limits import RiskLimits, platform_defaults
from services.discovery.store import MasterFillRow, MasterProfileRow, MeasuredCopyRow, PerformanceStatsRow, RankingRow
from services.kit.bus import Delivery
from services.kit.db import Database, aware

log = logging.getLogger("copytrade.discovery.analytics")
WINDOWS = {pb.STATS_WINDOW_7D: "7D", pb.STATS_WINDOW_30D: "30D", pb.STATS_WINDOW_90D: "90D",
           pb.STATS_WINDOW_ALL_TIME: "ALL_TIME"}
RANKING_TTL = timedelta(hours=1)
COPIERS_PNL_TTL_S = 60.0  # each copy's PnL is asked of its venue: at most once a minute per profile
ZERO = Decimal(0)
LIVE = (rep.SESSION_STATE_ACTIVE, rep.SESSION_STATE_PAUSED, rep.SESSION_STATE_FROZEN)
# What ListMasterTraders may rank by: PerformanceStats fields that are numbers.
RANKABLE = {"roi", "capturable_roi", "follower_count", "assets_under_copy", "copiers_pnl", "realized_pnl", "unrealized_pnl", "win_rate", "profit_factor", "average_win", "average_loss",
            "max_drawdown", "sharpe_ratio", "sortino_ratio", "volatility", "average_holding_hours",
            "trades_per_day", "trade_count", "track_record_days"}


def window_name(window: int) -> str:
    return WINDOWS.get(window or pb.STATS_WINDOW_ALL_TIME, "ALL_TIME")


def fill_from_event(event: events.MasterFill) -> MasterFillRow:
    quantity, price, fee = Decimal(event.quantity), Decimal(event.price), Decimal(event.fee or 0)
    base = event.symbol.split("/")[0]
    if event.fee_currency and event.fee_currency == base:  # a fee taken in the asset bought
        fee *= price
    return MasterFillRow(
        fill_id=event.fill_id, master_account_id=event.master_account_id, symbol=event.symbol,
        side="buy" if event.side == trading_pb2.SIDE_BUY else "sell", quantity=quantity, price=price, fee=fee,
        equity=Decimal(event.master_equity) if event.master_equity else None,
        execute_time=event.execute_time.ToDatetime(tzinfo=UTC))


def stats_to_proto(window: str, values: dict | None, update_time: datetime | None) -> pb.PerformanceStats:
    message = pb.PerformanceStats(window=pb.StatsWindow.Value(f"STATS_WINDOW_{window}"))
    for name, value in (values or {}).items():
        if name == "not_enough_history":
            message.not_enough_history.extend(pb.InsufficientHistory(**entry) for entry in value)
        else:
            setattr(message, name, value)
    if update_time is not None:
        message.update_time.FromDatetime(aware(update_time))
    return message


DEFAULT_FOLLOWER = sizing.Settings(mode="MULTIPLIER", multiplier=Decimal(1))
MODEL_DELAY_MS = 100  # the fallback, before any copy of the master was measured
FEE_RATE = Decimal("0.001")


@dataclass(frozen=True)
class Measured:
    """What the platform's copies of a master's fills actually got."""

    copies: int
    delay_ms: int  # median ack time less master fill time
    slippage_bps: Decimal  # mean, against the follower, in bps of the master's price


def measure(copies: list[tuple[str, Decimal, Decimal, int]]) -> Measured | None:
    """From (side, master price, copy fill price, delay ms) of each filled copy."""
    copies = [c for c in copies if c[1] > 0]
    if not copies:
        return None
    adverse = [(fill - master) / master * 10_000 * (1 if side == "buy" else -1) for side, master, fill, _ in copies]
    delays = sorted(c[3] for c in copies)
    return Measured(len(copies), delays[len(delays) // 2], sum(adverse, ZERO) / len(adverse))


def capturable(fills: list[stats.Fill], window: str, now: datetime, measured: Measured | None = None,
               limits: RiskLimits | None = None) -> dict:
    """What a default follower would have made of the window's fills (see PerformanceStats), at
    the measured delay and slippage when there are measured copies, else at the model's."""
    basis = {"capturable_basis": pb.CAPTURABLE_BASIS_MEASURED if measured else pb.CAPTURABLE_BASIS_MODEL,
             "capturable_copy_count": measured.copies if measured else 0,
             "capturable_delay_ms": measured.delay_ms if measured else MODEL_DELAY_MS,
             "capturable_slippage_bps": stats.decimal_text(
                 measured.slippage_bps if measured else preview.SLIPPAGE_BPS_PER_SECOND * MODEL_DELAY_MS / 1000, "0.01")}
    days = stats.WINDOW_DAYS[window]
    chosen = [f for f in fills if days is None or f.time >= now - timedelta(days=days)]
    capital = next((f.equity for f in sorted(fills, key=lambda f: f.time) if f.equity), None)
    if not chosen or not capital:
        return {**basis, "capturable_roi": ""}
    result = preview.replay([preview.MasterFill(str(i), f) for i, f in enumerate(chosen)], capital=capital,
                            settings=DEFAULT_FOLLOWER, limits=limits or platform_defaults(),
                            latency_ms=basis["capturable_delay_ms"], fee_rate=FEE_RATE,
                            slippage_bps=measured.slippage_bps if measured else None)
    return {**basis, "capturable_roi": stats.decimal_text(result.follower_return)}


LOOKUP_IDS = 1000  # fill ids per look-up (bound parameters stay within every database's limit)


class Analytics:
    def __init__(self, db: Database, replication: ReplicationServiceStub | None = None,
                 limits: RiskLimits | None = None) -> None:
        self.db, self.replication = db, replication
        self.limits = limits or platform_defaults()  # a default follower's, as risk's platform defaults
        self._dirty: set[str] = set()  # master accounts with fills not yet in the statistics
        self._all_dirty = True  # at start-up: fills stored before a crash may not be counted yet
        self._copiers: dict[str, tuple[float, str]] = {}  # trader id → (when, copiers' PnL)

    async def _following(self, profile: MasterProfileRow) -> tuple[int, str, str]:
        """Live sessions copying the profile's accounts, the capital their followers set aside
        for it (assets under copy), and what every copy made after fees (copiers' PnL), as
        replication knows them."""
        if self.replication is None:
            return 0, "", ""
        sessions, token = [], ""
        try:
            while True:
                page = await self.replication.ListCopySessions(rep.ListCopySessionsRequest(
                    master_id=profile.user_id, page_size=500, page_token=token), timeout=5)
                sessions += page.sessions
                token = page.next_page_token
                if not token:
                    break
        except grpc.aio.AioRpcError as exc:
            log.warning("followers of %s unknown: %s", profile.trader_id, exc.code().name)
            return 0, "", ""
        copies = [s for s in sessions if s.master_account_id in profile.master_account_ids]
        live = [s for s in copies if s.state in LIVE]
        capital = sum((Decimal(s.settings.allocated_capital) for s in live if s.settings.allocated_capital), ZERO)
        return len(live), str(capital), await self._copiers_pnl(profile.trader_id, copies)

    async def _copiers_pnl(self, trader_id: str, copies: list[rep.CopySession]) -> str:
        cached = self._copiers.get(trader_id)
        if cached and time.monotonic() - cached[0] < COPIERS_PNL_TTL_S:
            return cached[1]
        total, known = ZERO, False
        for copy in copies:
            try:
                reply = await self.replication.GetCopySessionPerformance(
                    rep.GetCopySessionPerformanceRequest(config_id=copy.config_id), timeout=10)
            except grpc.aio.AioRpcError as exc:  # a venue that does not answer leaves that copy out
                log.info("PnL of copy %s unknown: %s", copy.config_id, exc.code().name)
                continue
            if reply.performance.fill_count:
                total, known = total + Decimal(reply.performance.net_pnl), True
        value = stats.decimal_text(total, "0.01") if known else ""
        self._copiers[trader_id] = (time.monotonic(), value)
        return value

    async def on_fills(self, deliveries: list[Delivery]) -> None:
        """Store the master fills not seen before: one look-up and one insert per batch (a
        backlog after downtime arrives in hundreds), each fill once."""
        fresh: dict[str, events.MasterFill] = {}
        for delivery in deliveries:
            if isinstance(delivery.event, events.MasterFill):
                fresh.setdefault(delivery.event.fill_id, delivery.event)
        if not fresh:
            return
        for attempt in range(2):
            try:
                async with self.db.session() as session:
                    seen = set()
                    ids = list(fresh)
                    for start in range(0, len(ids), LOOKUP_IDS):
                        seen |= set(await session.scalars(select(MasterFillRow.fill_id).where(
                            MasterFillRow.fill_id.in_(ids[start:start + LOOKUP_IDS]))))
                    session.add_all(fill_from_event(e) for fill_id, e in fresh.items() if fill_id not in seen)
                break
            except IntegrityError:  # another replica stored some of them meanwhile: look again
                if attempt:
                    raise
        self._dirty.update(e.master_account_id for e in fresh.values())

    async def on_copy(self, delivery: Delivery) -> None:
        """A filled copy (copies.order.filled): its delay and price, once per copy order."""
        event = delivery.event
        if not isinstance(event, events.CopyEvent) or event.WhichOneof("kind") != "filled":
            return
        order, filled = event.filled.order, event.filled
        price = order.average_fill_price or filled.price
        if not (order.master_fill_id and price and order.HasField("ack_time") and order.HasField("master_fill_time")):
            return  # not a copy of a fill (a mirrored resting order), or its timeline is incomplete
        ack = order.ack_time.ToDatetime(tzinfo=UTC)
        delay_ms = max(0, round((ack - order.master_fill_time.ToDatetime(tzinfo=UTC)).total_seconds() * 1000))
        async with self.db.session() as session:
            await session.merge(MeasuredCopyRow(
                order_id=order.order_id, master_fill_id=order.master_fill_id,
                side="buy" if order.side == trading_pb2.SIDE_BUY else "sell", fill_price=Decimal(price),
                delay_ms=delay_ms, ack_time=ack))
            master = await session.get(MasterFillRow, order.master_fill_id)
        self._dirty.add(master.master_account_id if master else order.master_fill_id.split(":")[0])

    async def refresh_dirty(self) -> None:
        """Bring up to date the profiles showing accounts with new fills: a burst of fills costs
        one recomputation per profile, not one per fill."""
        if not self._dirty and not self._all_dirty:
            return
        accounts, everyone, self._dirty, self._all_dirty = self._dirty, self._all_dirty, set(), False
        try:
            async with self.db.session() as session:
                profiles = (await session.execute(select(MasterProfileRow))).scalars().all()
            for profile in profiles:
                if everyone or accounts.intersection(profile.master_account_ids):
                    await self.refresh(profile)
        except Exception:
            self._dirty |= accounts  # next round tries again
            self._all_dirty |= everyone
            raise

    async def refresh(self, profile: MasterProfileRow, now: datetime | None = None) -> None:
        """Recompute and store a profile's statistics for every window."""
        now = now or datetime.now(UTC)
        async with self.db.session() as session:
            rows = (await session.execute(select(MasterFillRow).where(
                MasterFillRow.master_account_id.in_(profile.master_account_ids or [""])))).scalars().all()
            fills = [stats.Fill(r.symbol, r.side, r.quantity, r.price, r.fee, aware(r.execute_time), r.equity)
                     for r in rows]
            copies = (await session.execute(select(MeasuredCopyRow, MasterFillRow.price).join(
                MasterFillRow, MasterFillRow.fill_id == MeasuredCopyRow.master_fill_id).where(
                MasterFillRow.master_account_id.in_(profile.master_account_ids or [""])))).all()
        measured = measure([(c.side, master_price, c.fill_price, c.delay_ms) for c, master_price in copies])
        followers, under_copy, copiers_pnl = await self._following(profile)
        async with self.db.session() as session:
            await self.db.serialise(session, f"discovery-stats:{profile.trader_id}")
            for window in WINDOWS.values():
                values = stats.compute(fills, window, now)
                values.update(capturable(fills, window, now, measured, self.limits))
                values["follower_count"], values["assets_under_copy"] = followers, under_copy
                values["copiers_pnl"] = copiers_pnl
                await session.merge(PerformanceStatsRow(trader_id=profile.trader_id, window=window, stats=values,
                                                        update_time=now))

    async def stats_of(self, trader_ids: list[str], window: str) -> dict[str, PerformanceStatsRow]:
        async with self.db.session() as session:
            rows = (await session.execute(select(PerformanceStatsRow).where(
                PerformanceStatsRow.trader_id.in_(trader_ids or [""]),
                PerformanceStatsRow.window == window))).scalars().all()
        return {r.trader_id: r for r in rows}

    async def rank(self, candidates: list[MasterProfileRow], window: str, field: str, descending: bool) -> str:
        """Order the candidates by a statistic (unknown values last, ties by trader id) and keep
        the order; returns the ranking's id."""
        known = await self.stats_of([c.trader_id for c in candidates], window)

        def key(profile: MasterProfileRow):
            value = stats.sort_value(known[profile.trader_id].stats, field) if profile.trader_id in known else None
            return (value is None, -(value or 0) if descending else (value or 0), profile.trader_id)
        ordered = sorted(candidates, key=key)
        ranking_id = secrets.token_hex(8)
        now = datetime.now(UTC)
        async with self.db.session() as session:
            await session.execute(delete(RankingRow).where(RankingRow.create_time < now - RANKING_TTL))
            session.add_all(RankingRow(ranking_id=ranking_id, position=i, trader_id=p.trader_id, create_time=now)
                            for i, p in enumerate(ordered))
        return ranking_id

    async def ranking_page(self, ranking_id: str, start: int, size: int) -> tuple[list[str], bool]:
        async with self.db.session() as session:
            ids = (await session.execute(select(RankingRow.trader_id).where(
                RankingRow.ranking_id == ranking_id, RankingRow.position >= start).order_by(RankingRow.position)
                .limit(size + 1))).scalars().all()
        return list(ids[:size]), len(ids) > size
