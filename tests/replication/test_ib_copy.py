"""A copy to an Interactive Brokers follower through the mesh: replication opens the follower's
IB venue from its vault credential (account code, TWS address) through VenuePool, sizes the
master's ES fill onto MES through the symbol map, and places it over the TWS API with ib_async
on the IB simulator. Verified by asking the simulator."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest_asyncio
from sqlalchemy import select

from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import error_recovery_service_pb2 as er
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.store import CopySessionRow, VenueAccountRow
from services.replication.venues.base import OrderRequest
from services.replication.venues.ib_venue import IbVenue
from tests.replication.conftest import enrol_ib, follow, raise_position_cap
from venue_sim.ib import IbSimulator

MASTER_CLIENT_ID = 77  # TWS' "Master API client ID": told of the orders of every API client
ES_AS_MES = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                             symbol_map=[rep.SymbolMapping(master_symbol="ES", follower_symbol="MES")])


@pytest_asyncio.fixture
async def ib_mesh(services_on):
    sim = await IbSimulator(seed=3, master_client_id=MASTER_CLIENT_ID).start()
    stubs = await services_on({"ib": f"127.0.0.1:{sim.port}"})
    yield sim, stubs.compliance, stubs.replication, stubs.risk, stubs.copier, stubs.recovery
    await sim.stop()


async def test_an_es_master_fill_is_copied_to_an_ib_follower_as_mes(ib_mesh, token_for):
    sim, compliance, replication, risk, *_ = ib_mesh
    master, _, master_account = await enrol_ib(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER)
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f",
                                             rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, follower, account, master_account, ES_AS_MES)
    await raise_position_cap(risk, token_for, follower)  # one MES at 5,000 is 25,000 of exposure
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-es-1", symbol="ES",
        side=trading_pb2.SIDE_BUY, quantity="1", price="5000"), metadata=token_for(master))
    orders = await eventually(lambda: sim.orders(code), message="the MES copy at the IB simulator")
    assert [(o.contract.symbol, o.action, o.quantity, o.status) for o in orders] == [
        ("MES", "BUY", Decimal(1), "Filled")]
    assert orders[0].order_ref  # our client order id travels as IB's orderRef


async def test_a_watched_ib_master_trading_from_its_own_api_client_is_copied(ib_mesh, token_for):
    """The master trades ES through their own API client; replication watches the account as the
    gateway's Master API client ID (the vault's client id), sees the execution live and copies it."""
    sim, compliance, replication, risk, *_ = ib_mesh
    master, master_code, master_account = await enrol_ib(sim, compliance, replication, token_for, "m",
                                                         rep.ACCOUNT_ROLE_MASTER, watch=True,
                                                         client_id=str(MASTER_CLIENT_ID))
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f",
                                             rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, follower, account, master_account, ES_AS_MES)
    await raise_position_cap(risk, token_for, follower)
    await eventually(lambda: sim.stream_subscribed(master_code), message="the master account watched")
    master_venue = IbVenue(host="127.0.0.1", port=sim.port, client_id=5, account=master_code)
    try:
        await master_venue.place_order(OrderRequest("master-es-1", "ES", "sell", Decimal(1)))
    finally:
        await master_venue.close()
    orders = await eventually(lambda: sim.orders(code), message="the MES copy at the IB simulator")
    assert [(o.contract.symbol, o.action, o.quantity) for o in orders] == [("MES", "SELL", Decimal(1))]


async def test_a_copy_outside_the_follower_instruments_trading_hours_is_refused_with_the_reason(ib_mesh, token_for):
    """CME equity-index futures trade Sunday 17:00 to Friday 16:00 Central: a master fill on a
    Saturday is refused by replication before risk is asked, never reaches the IB follower, and
    says when MES reopens."""
    sim, compliance, replication, risk, copier, _ = ib_mesh
    master, _, master_account = await enrol_ib(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER)
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f",
                                             rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, follower, account, master_account, ES_AS_MES)
    await raise_position_cap(risk, token_for, follower)

    async def copy_of(trade_id: str):
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=trade_id, symbol="ES",
            side=trading_pb2.SIDE_BUY, quantity="1", price="5000"), metadata=token_for(master))

        async def settled():
            orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                           metadata=token_for(follower))).orders
            done = [o for o in orders if o.status not in (events.FOLLOWER_ORDER_STATUS_UNSPECIFIED,
                                                          events.FOLLOWER_ORDER_STATUS_PENDING)]
            return len(done) == len(orders) and orders
        return await eventually(settled, message=f"the copy of {trade_id} settled")

    copier.clock = lambda: datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # Saturday, 09:00 Central
    [refused] = await copy_of("T-saturday")
    assert refused.status == events.FOLLOWER_ORDER_STATUS_REFUSED
    assert (refused.refusal.reason, refused.refusal.domain) == ("MARKET_CLOSED", "replication.copytrade")
    assert "MES is outside its trading hours" in refused.refusal.message
    assert refused.refusal.metadata["opens"] == "2026-12-06T23:00:00+00:00"  # Sunday 17:00 Central
    assert sim.orders(code) == []  # nothing reached IB

    copier.clock = lambda: datetime(2026, 12, 6, 23, 0, tzinfo=UTC)  # Sunday 17:00 Central: open
    await copy_of("T-sunday-open")
    orders = await eventually(lambda: sim.orders(code), message="the in-session copy at the IB simulator")
    assert [(o.contract.symbol, o.action, o.quantity) for o in orders] == [("MES", "BUY", Decimal(1))]


async def test_two_replicas_connect_one_ib_account_with_client_ids_of_their_own(start_service, token_for):
    """TWS refuses a second connection with a client id already connected (error 326): every
    replica copying to an IB follower connects it, so each derives the id from its replica slot."""
    sim = await IbSimulator(seed=5).start()
    try:
        compliance = await start_service("compliance")
        risk = await start_service("risk")
        addresses = {**compliance.settings.addresses, "compliance": compliance.address, "risk": risk.address}
        replicas = [await start_service("replication", addresses=addresses, venue_rate_limit=False,
                                        venue_urls={"ib": f"127.0.0.1:{sim.port}"}) for _ in range(2)]
        slots = {r.running.components["ownership"].slot for r in replicas}
        assert len(slots) == 2  # one slot each
        _, code, account = await enrol_ib(sim, ComplianceServiceStub(compliance.channel),
                                          ReplicationServiceStub(replicas[0].channel), token_for, "f",
                                          rep.ACCOUNT_ROLE_FOLLOWER)
        opened = []
        for replica in replicas:
            db = replica.running.components["copier"].db
            async with db.session() as session:
                row = await session.get(VenueAccountRow, account.account_id)
            venue = await replica.running.components["pool"].get(row)  # what a copy to it does first
            opened.append(await venue.account())
        assert all(snapshot.equity > 0 for snapshot in opened)
        sessions = [s["clientId"] for s in sim.sessions() if code in s["accounts"]]
        assert len(sessions) == len(set(sessions)) == 2  # both connected, each with its own id
    finally:
        await sim.stop()


async def test_reconciling_an_ib_session_older_than_todays_executions_uses_the_position(ib_mesh, token_for):
    """TWS hands reqExecutions only today's executions (its Trade Log): a session that began
    yesterday is reconciled against the position IB reports, not against today's trades alone
    (which would call a follower holding its copy out of sync, and a resync buy it twice)."""
    sim, compliance, replication, risk, copier, recovery = ib_mesh
    master, _, master_account = await enrol_ib(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER)
    follower, code, account = await enrol_ib(sim, compliance, replication, token_for, "f",
                                             rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, follower, account, master_account, ES_AS_MES)
    await raise_position_cap(risk, token_for, follower)
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-es-old", symbol="ES",
        side=trading_pb2.SIDE_BUY, quantity="1", price="5000"), metadata=token_for(master))
    await eventually(lambda: [o for o in sim.orders(code) if o.status == "Filled"], message="the copy filled")
    # As if it all happened yesterday: the session started then, and the copy's execution is
    # beyond what TWS shows today.
    assert sim.age_executions(code, 86_400) == 1
    async with copier.db.session() as session:
        row = (await session.execute(select(CopySessionRow).where(
            CopySessionRow.follower_account_id == account.account_id))).scalar_one()
        row.create_time = datetime.now(UTC) - timedelta(days=1, hours=1)
        config_id = row.config_id
    result = (await recovery.ReconcileTrade(er.ReconcileTradeRequest(config_id=config_id, dry_run=True),
                                            metadata=token_for(follower))).result
    assert result.in_sync, result
    assert len(sim.orders(code)) == 1  # nothing traded to "repair" it
