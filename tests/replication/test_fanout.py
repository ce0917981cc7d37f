"""A fill's copies as one batch, on SQLite and PostgreSQL: the sessions the copier keeps in
memory follow every change made through the API (settings, pause, a new follower), and the
fence insert leaves copies already recorded alone."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import nats
import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import select

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.kit.db import Database, insert_ignoring
from services.kit.testing import eventually
from services.replication import copier
from services.replication.server import MIGRATIONS, WORKERS_DURABLE
from services.risk.store import ReservationRow
from services.replication.store import FollowerOrderRow, MasterPositionRow
from tests.replication.test_copy_flow import UNDECIDED, enrol, mesh, orders_of  # noqa: F401 - the fixture
from tests.replication.test_worker_crash import copied_by, own_nats  # noqa: F401 - a fixture: a nats-server of
# the test's own, so a stopped service's pull requests on the shared server cannot hold the next test's fills
from venue_sim import Simulator, venue_urls


async def copy_path(start_service, nats_url: str, sim):
    """Compliance, risk and replication started on nats_url, replication sending to the simulator:
    (a compliance stub, a replication stub, the replication service, the risk service)."""
    from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
    from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
    compliance = await start_service("compliance", nats_url=nats_url)
    risk = await start_service("risk", nats_url=nats_url)
    addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
    replication = await start_service("replication", addresses=addresses, venue_rate_limit=False,
                                      venue_urls=venue_urls(sim.url), nats_url=nats_url)
    return ComplianceServiceStub(compliance.channel), ReplicationServiceStub(replication.channel), replication, risk


@pytest.mark.parametrize("chunk", [copier.FANOUT_CHUNK, 2], ids=["one-batch", "batches-of-2"])
async def test_a_fills_batch_follows_session_changes_made_meanwhile(own_nats, start_service, token_for, backend,
                                                                    monkeypatch, chunk):
    # Batches of 2: a fill's copies go out in pipelined batches, each with its own risk call and fence.
    monkeypatch.setattr(copier, "FANOUT_CHUNK", chunk)
    sim = await Simulator(seed=9).start()
    try:
        comp_stub, rep_stub, replication, risk = await copy_path(start_service, own_nats.url, sim)
        master, master_account, users = await copied_by(sim, comp_stub, rep_stub, token_for, 4)

        async def fill(trade_id: str) -> None:
            await rep_stub.SubmitMasterFill(rep.SubmitMasterFillRequest(
                master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT",
                side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))

        def quantities(user: str) -> list[Decimal]:
            return [o.orig_qty for o in sim.orders(user)]

        await fill("T1")
        for user, _ in users:
            await eventually(lambda: quantities(user) == [Decimal("0.002")], message=f"{user}'s first copy")

        # Between fills: one follower changes her size, another pauses, a new follower joins.
        sessions = {}
        for user, _ in users:
            listed = (await rep_stub.ListCopySessions(rep.ListCopySessionsRequest(), metadata=token_for(user))).sessions
            sessions[user] = listed[0].config_id
        resized, paused = users[0][0], users[1][0]
        await rep_stub.UpdateCopySettings(rep.UpdateCopySettingsRequest(
            config_id=sessions[resized], settings=rep.CopySettings(fixed_quantity="0.003"),
            update_mask=field_mask_pb2.FieldMask(paths=["fixed_quantity"])), metadata=token_for(resized))
        await rep_stub.PauseCopySession(rep.PauseCopySessionRequest(config_id=sessions[paused]),
                                        metadata=token_for(paused))
        [(joined, _)] = await _one_more_follower(sim, comp_stub, rep_stub, token_for, master_account)

        await fill("T2")
        await eventually(lambda: quantities(resized) == [Decimal("0.002"), Decimal("0.003")],
                         message="the new size used at once")
        await eventually(lambda: quantities(joined) == [Decimal("0.002")], message="the new follower copied")
        for user, _ in users[2:]:
            await eventually(lambda: quantities(user) == [Decimal("0.002")] * 2, message=f"{user}'s second copy")

        async def refused_paused():
            orders = (await rep_stub.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                        metadata=token_for(paused))).orders
            return sorted((o.status, o.refusal.reason) for o in orders) == sorted([
                (events.FOLLOWER_ORDER_STATUS_FILLED, ""), (events.FOLLOWER_ORDER_STATUS_REFUSED, "SESSION_PAUSED")])
        await eventually(refused_paused, message="the paused session's copy refused as paused")
        assert quantities(paused) == [Decimal("0.002")]

        # Risk agrees with the venue: one committed reservation per order there, none left open.
        async def risk_agrees():
            ours = [user for user, _ in [*users, (joined, "")]]
            async with risk.running.components["book"].db.session() as session:
                rows = (await session.execute(select(ReservationRow.user_id, ReservationRow.status).where(
                    ReservationRow.user_id.in_(ours)))).all()
            at_venue = sorted(user for user in ours for _ in sim.orders(user))
            return sorted(user for user, status in rows if status == "COMMITTED") == at_venue \
                and all(status == "COMMITTED" for _, status in rows)
        await eventually(risk_agrees, message="one committed reservation per copy at the venue")
    finally:
        await sim.stop()


async def _one_more_follower(sim, compliance, replication, token_for, master_account):
    """A follower joining a master someone already copies."""
    import uuid

    from copytrade.compliance.v1 import compliance_service_pb2 as comp
    from tests.replication.test_copy_flow import SPOT, verify

    user = f"late-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    account = sim.create_account(user, {"USDT": "100000"})
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=SPOT, api_key=account.api_key, api_secret=account.secret), metadata=token_for(user))).credential
    venue_account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=rep.ACCOUNT_ROLE_FOLLOWER, venue=SPOT, credential_id=credential.credential_id),
        metadata=token_for(user))).account
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=venue_account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.002")),
        metadata=token_for(user))
    return [(user, venue_account.account_id)]


async def test_the_fence_inserts_only_rows_not_there_and_names_them(make_settings, backend):
    db = Database(make_settings("replication"), MIGRATIONS)
    await db.migrate()
    try:
        from datetime import UTC, datetime
        now = datetime.now(UTC)

        def row(symbol: str, quantity: str) -> dict:
            return {"master_account_id": "acc-fence", "symbol": symbol, "quantity": Decimal(quantity), "update_time": now}
        async with db.session() as session:
            assert await insert_ignoring(session, MasterPositionRow, [row("BTC/USDT", "1")]) == {
                ("acc-fence", "BTC/USDT")}
        async with db.session() as session:
            again = await insert_ignoring(session, MasterPositionRow, [row("ETH/USDT", "2"), row("BTC/USDT", "9")])
        async with db.session() as session:
            kept = await session.get(MasterPositionRow, ("acc-fence", "BTC/USDT"))
            added = await session.get(MasterPositionRow, ("acc-fence", "ETH/USDT"))
        assert kept.quantity == Decimal("1") and added.quantity == Decimal("2")  # the row there is left alone
        assert again == {("acc-fence", "ETH/USDT")}  # only what this insert put there
        # Every column type a copy's row has (text, decimals as text, JSON, times, flags, NULLs),
        # a thousand at once, read back as written.
        copies = [{"order_id": f"ct-fence-{i}", "config_id": "cfg", "follower_id": "f", "follower_account_id": "a",
                   "master_fill_id": "mf", "symbol": "BTC/USDT", "side": 1, "quantity": Decimal(f"0.{i:04d}"),
                   "filled_quantity": Decimal(0), "status": 1, "venue_order_id": "", "error_kind": "",
                   "error_message": "", "master_fill_time": now, "receive_time": now,
                   "refusal": {"reason": "R", "metadata": {"i": str(i)}} if i % 2 else None}
                  for i in range(1000)]
        async with db.session() as session:
            assert len(await insert_ignoring(session, FollowerOrderRow, copies)) == 1000
        async with db.session() as session:
            odd, even = await session.get(FollowerOrderRow, "ct-fence-7"), await session.get(FollowerOrderRow, "ct-fence-8")
        assert (odd.quantity, odd.refusal, odd.send_time, odd.close_position) == (
            Decimal("0.0007"), {"reason": "R", "metadata": {"i": "7"}}, None, False)
        assert even.refusal is None and even.master_fill_time.timestamp() == now.timestamp()
    finally:
        await db.close()


class Backlog:
    """The copy path's services on a simulator of their own, a signal-only master copied by
    `followers` spot followers, and the copier's first pass held: the master's next fills queue
    up in its lane behind it until release()."""

    def __init__(self, own_nats, start_service, token_for, followers: int, seed: int) -> None:
        self.own_nats, self.start_service, self.token_for = own_nats, start_service, token_for
        self.followers, self.seed = followers, seed
        self.passes: list[list[str]] = []  # each pass's fills, by venue trade id
        self._gate = asyncio.Event()

    async def __aenter__(self) -> "Backlog":
        self.sim = await Simulator(seed=self.seed).start()
        compliance, self.replication, replication, _ = await copy_path(self.start_service, self.own_nats.url,
                                                                       self.sim)
        self.master, self.master_account, self.users = await copied_by(
            self.sim, compliance, self.replication, self.token_for, self.followers)
        copier_ = replication.running.components["copier"]
        copy_in_order = copier_._copy_in_order

        async def watched(fills, lock):
            self.passes.append([fill.venue_trade_id for fill in fills])
            if len(self.passes) == 1:
                await self._gate.wait()  # the first fill's pass is held: the rest queue up in the lane
            await copy_in_order(fills, lock)
        copier_._copy_in_order = watched
        return self

    async def __aexit__(self, *exc) -> None:
        self._gate.set()
        await self.sim.stop()

    async def fill(self, trade_id: str, side, quantity: str) -> None:
        await self.replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=self.master_account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT",
            side=side, quantity=quantity, price="64000"), metadata=self.token_for(self.master))

    async def release(self, waiting: int) -> None:
        """Once `waiting` fills wait in the lane behind the held pass, let it go."""
        watcher = await nats.connect(self.own_nats.url)
        try:
            async def in_the_lane():  # delivered to the copier, not yet acknowledged: the held one and those behind
                return (await watcher.jetstream().consumer_info("FILLS", WORKERS_DURABLE)).num_ack_pending \
                    == waiting + 1
            await eventually(in_the_lane, message=f"{waiting} fills waiting in the master's lane")
        finally:
            await watcher.close()
        self._gate.set()


async def test_a_masters_backlog_is_copied_in_one_pass_each_follower_in_the_masters_order(
        own_nats, start_service, token_for, backend):
    """Fills that queue up behind one being copied (a burst) are copied together in the next
    pass: those that only open decided, fenced and sent together, a close sized on the copies
    before it. Every follower gets each fill once, in the master's order."""
    async with Backlog(own_nats, start_service, token_for, followers=3, seed=11) as backlog:
        sim = backlog.sim
        buy, sell = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
        await backlog.fill("B1", buy, "0.01")
        await eventually(lambda: backlog.passes == [["B1"]], message="the first fill's pass under way")
        for trade_id, side, quantity in (("B2", buy, "0.01"), ("B3", buy, "0.01"),
                                         ("S4", sell, "0.015"), ("B5", buy, "0.01")):  # S4 closes half
            await backlog.fill(trade_id, side, quantity)
        await backlog.release(waiting=4)

        def orders(user: str):
            return [(o.side, o.orig_qty) for o in sim.orders(user)]
        expected = [("BUY", Decimal("0.002"))] * 3 + [("SELL", Decimal("0.003")), ("BUY", Decimal("0.002"))]
        for user, _ in backlog.users:
            await eventually(lambda: len(orders(user)) == 5, message=f"{user}'s five copies")
            assert orders(user) == expected, orders(user)  # in the master's order, the close sized on them
            assert len({o.client_order_id for o in sim.orders(user)}) == 5  # each fill once
        assert backlog.passes[1] == ["B2", "B3", "S4", "B5"], backlog.passes  # the backlog in one pass


async def test_a_watchers_burst_is_stored_in_one_go_in_order_with_the_masters_position(make_settings, backend):
    """Fills a master's stream delivers together are stored together: each with the position
    before it, their record times rising in the order they happened (the copier copies by
    them), one named twice stored once, one already stored found as stored."""
    from datetime import UTC, datetime

    from services.replication.fills import record, record_all
    from services.replication.store import MasterFillRow
    db = Database(make_settings("replication"), MIGRATIONS)
    await db.migrate()
    try:
        def fill(trade_id: str, side, quantity: str, price: str = "100") -> events.MasterFill:
            event = events.MasterFill(fill_id=f"acc-burst:{trade_id}", master_account_id="acc-burst",
                                      venue_trade_id=trade_id, symbol="ETH/USDT", side=side, quantity=quantity,
                                      price=price)
            event.execute_time.FromDatetime(datetime.now(UTC))
            return event
        buy, sell = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
        [(first, created, _)] = [await record(db, fill("t0", buy, "1"))]
        assert created and first.position_before == "0"
        burst = [fill("t0", buy, "1"), fill("t1", buy, "2", "130"), fill("t2", sell, "1.5"), fill("t1", buy, "2", "130"),
                 fill("t3", sell, "1.5")]
        stored = await record_all(db, burst)
        assert [created for _, created, _ in stored] == [False, True, True, False, True]
        assert [Decimal(e.position_before) for e, _, _ in stored] == [0, 1, 3, 1, Decimal("1.5")]
        async with db.session() as session:
            position = await session.get(MasterPositionRow, ("acc-burst", "ETH/USDT"))
            order = list((await session.execute(select(MasterFillRow.fill_id).where(
                MasterFillRow.master_account_id == "acc-burst").order_by(
                MasterFillRow.record_time, MasterFillRow.fill_id))).scalars())
        assert position.quantity == 0 and position.entry_price is None  # flat again
        assert list(order) == ["acc-burst:t0", "acc-burst:t1", "acc-burst:t2", "acc-burst:t3"]
    finally:
        await db.close()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_fills_two_writers_record_at_once_move_the_masters_position_one_after_the_other(make_settings, backend):
    """Two replicas may record one master's fills at once (a watcher handing over): each fill is
    stored with the position before it as the other left it, from the symbol's first fill (no
    row yet to lock) on, and the position ends at their sum."""
    import asyncio
    from datetime import UTC, datetime

    from services.replication.fills import record
    settings = make_settings("replication")
    one, other = Database(settings, MIGRATIONS), Database(settings, MIGRATIONS)
    await one.migrate()
    try:
        def fill(n: int) -> events.MasterFill:
            event = events.MasterFill(fill_id=f"acc-two:{n}", master_account_id="acc-two", venue_trade_id=str(n),
                                      symbol="SOL/USDT", side=trading_pb2.SIDE_BUY, quantity="1", price="100")
            event.execute_time.FromDatetime(datetime.now(UTC))
            return event
        stored = await asyncio.gather(*(record(one if n % 2 else other, fill(n)) for n in range(40)))
        assert sorted(Decimal(event.position_before) for event, created, _ in stored if created) == list(range(40))
        async with one.session() as session:
            position = await session.get(MasterPositionRow, ("acc-two", "SOL/USDT"))
        assert position.quantity == 40
    finally:
        await one.close()
        await other.close()


async def test_a_bursts_spot_closes_read_each_followers_holdings_once_and_follow_her_copies(
        own_nats, start_service, token_for, backend):
    """A burst of opens and closes on spot: the closes of one pass read each follower's holdings
    from her venue once, then follow what her copies bought (less the fee the venue took in
    BTC) and sold; the last close sells exactly what she holds."""
    async with Backlog(own_nats, start_service, token_for, followers=2, seed=12) as backlog:
        sim = backlog.sim
        buy, sell = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
        await backlog.fill("B1", buy, "0.01")
        await eventually(lambda: len(backlog.passes) == 1, message="the first fill's pass under way")
        # Master: 0.01 → 0.02 → 0.01 (half closed) → 0.02 → 0 (all closed).
        for trade_id, side, quantity in (("B2", buy, "0.01"), ("S3", sell, "0.01"), ("B4", buy, "0.01"),
                                         ("S5", sell, "0.02")):
            await backlog.fill(trade_id, side, quantity)
        reads_before = {user: _reads(sim, user) for user, _ in backlog.users}
        await backlog.release(waiting=4)

        def btc(user: str) -> Decimal:
            return sim.exchange.accounts[user].balances.get("BTC", Decimal(0))
        for user, _ in backlog.users:
            await eventually(lambda: len(sim.orders(user)) == 5, message=f"{user}'s five copies")
            sides = [(o.side, o.orig_qty) for o in sim.orders(user)]
            # S3 halves her 0.004 (0.003996 held: no cut); S5 sells all she holds: three buys of
            # 0.002 less 0.1 % in BTC, less the 0.002 sold.
            assert sides[:4] == [("BUY", Decimal("0.002")), ("BUY", Decimal("0.002")), ("SELL", Decimal("0.002")),
                                 ("BUY", Decimal("0.002"))], sides
            assert sides[4] == ("SELL", Decimal("0.00399")), sides
            assert btc(user) < Decimal("0.00001")  # nothing left but what the lot size cannot sell
            assert _reads(sim, user) - reads_before[user] == 1  # one holdings read for the pass's two closes
        assert len(backlog.passes[1]) == 4


def _reads(sim, user: str) -> int:
    return sum(1 for _, endpoint, who in sim.request_log if who == user and endpoint == "GET /api/v3/account")


async def test_a_followers_holdings_are_read_once_for_closes_seconds_apart_and_again_when_the_venue_says_less(
        own_nats, start_service, token_for, backend):
    """A master who opens and closes every few seconds: each spot follower's holdings are read
    from her venue at her first close only, then kept by what her copies bought and sold, so a
    close seconds later sells exactly what she holds without asking (a read per close was a
    thousand balance requests for a 1×1000 close). Once her venue refuses a close for want of
    the coin (she moved some out herself), her next close reads it again."""
    sim = await Simulator(seed=13).start()
    try:
        compliance, replication, *_ = await copy_path(start_service, own_nats.url, sim)
        master, master_account, [(user, _)] = await copied_by(sim, compliance, replication, token_for, 1)
        buy, sell = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL

        async def fill(trade_id: str, side, quantity: str, copies: int) -> None:
            await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
                master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT",
                side=side, quantity=quantity, price="64000"), metadata=token_for(master))

            async def decided():
                listed = await orders_of(replication, token_for, user)
                return len(listed) == copies and all(o.status not in UNDECIDED for o in listed)
            await eventually(decided, timeout=20, message=f"{user}'s copy of {trade_id}")

        def sells() -> list[Decimal]:
            return [o.orig_qty for o in sim.orders(user) if o.side == "SELL"]
        reads = _reads(sim, user)
        await fill("B1", buy, "0.01", 1)  # she buys 0.002, holds 0.001998 (0.1 % fee in BTC)
        await fill("S2", sell, "0.005", 2)  # half: 0.001, read once
        assert sells() == [Decimal("0.001")] and _reads(sim, user) - reads == 1
        await asyncio.sleep(2.5)  # the master trades again seconds later (longer than a read served before)
        await fill("B3", buy, "0.01", 3)
        await fill("S4", sell, "0.015", 4)  # all: her 0.003 copied, cut to the 0.002996 she holds
        assert sells()[-1] == Decimal("0.00299") and _reads(sim, user) - reads == 1, (sells(), _reads(sim, user))
        # She moves her BTC out herself; the next close, sized on what this process knew, is refused by
        # her venue, and the one after it reads her holdings again.
        await fill("B5", buy, "0.01", 5)
        sim.exchange.accounts[user].balances["BTC"] = Decimal("0.0005")
        await fill("S6", sell, "0.005", 6)
        refused = {o.master_fill_id.rsplit(":", 1)[-1]: o.status for o in await orders_of(replication, token_for, user)}
        assert refused["S6"] == events.FOLLOWER_ORDER_STATUS_FAILED
        await fill("S7", sell, "0.005", 7)
        assert _reads(sim, user) - reads == 2 and sells()[-1] == Decimal("0.0005"), (sells(), _reads(sim, user))
    finally:
        await sim.stop()


async def test_an_equity_proportional_followers_equity_is_not_read_again_for_each_fill(mesh, token_for):  # noqa: F811
    """Equity sizing reads the follower's equity from her venue once (or takes the snapshots'),
    not again after each copy: a copy moves her equity only by its fee and the price, and a
    read per fill was a balance request per copy of every fill."""
    sim, compliance, _risk, replication, _bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "eq-master",
                                            rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"})
    user, _, account = await enrol(sim, compliance, replication, token_for, "eq-follower",
                                   rep.ACCOUNT_ROLE_FOLLOWER, {"USDT": "50000"})
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_EQUITY_PROPORTIONAL)), metadata=token_for(user))

    async def fill(trade_id: str) -> None:
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000", master_equity="100000"),
            metadata=token_for(master))
    await fill("E1")
    await eventually(lambda: len(sim.orders(user)) == 1, message="the first copy")
    reads = _reads(sim, user)
    await asyncio.sleep(2.5)  # the master's next trade, seconds later
    await fill("E2")
    await eventually(lambda: len(sim.orders(user)) == 2, message="the second copy")
    assert _reads(sim, user) == reads  # sized on the equity read for the first
    assert [o.orig_qty for o in sim.orders(user)] == [Decimal("0.005")] * 2  # half the master's equity, half its size
