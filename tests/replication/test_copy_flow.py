"""A real copy through the mesh: a master trades on the Binance-protocol simulator with ccxt;
replication sees the fill on the master's own user-data stream, sizes it per follower, reserves
it with risk, fetches each follower's credentials from the compliance vault and places the
copy on the simulator through ccxt. Verified by asking the simulator, not our database."""

import uuid
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.bus import Bus
from services.kit.errors import error_info
from services.kit.testing import eventually
from services.replication import fills
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from venue_sim import ccxt_config

SPOT = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)


@pytest_asyncio.fixture
async def mesh(copy_mesh, nats_server):
    started = await copy_mesh(seed=5)
    bus = await Bus.connect(nats_server.url, "test-observer")
    yield started.sim, ComplianceServiceStub(started.compliance.channel), RiskServiceStub(started.risk.channel), \
        ReplicationServiceStub(started.replication.channel), bus
    await bus.close()


async def verify(compliance, token_for, user):
    """KYC approved by an operator and the current risk disclosure accepted."""
    await compliance.SubmitKyc(comp.SubmitKycRequest(user_id=user, legal_name="A Person", country="DE",
                                                     document_type="passport", document_number="C01X00T47"),
                               metadata=token_for(user))
    await compliance.DecideKyc(comp.DecideKycRequest(user_id=user, approve=True), metadata=token_for("ops", "operator"))
    await compliance.RecordConsent(comp.RecordConsentRequest(user_id=user, document="risk_disclosure",
                                                             version="2026-01"), metadata=token_for(user))


PERPETUAL = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance",
                              market_type=trading_pb2.MARKET_TYPE_PERPETUAL)


async def enrol(sim, compliance, replication, token_for, name, role, balances, *, watch=False, futures_wallet=None):
    """A verified user with a funded simulator account, its keys in the vault and a venue account
    (on USDⓈ-M perpetuals when it has a futures wallet)."""
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    sim_account = sim.create_account(user, balances, futures_wallet=futures_wallet)
    venue = PERPETUAL if futures_wallet else SPOT
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, api_key=sim_account.api_key, api_secret=sim_account.secret), metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=venue, credential_id=credential.credential_id, watch_fills=watch),
        metadata=token_for(user))).account
    return user, sim_account, account


def venue_orders(sim, user):
    return [(o.client_order_id, o.side, o.orig_qty) for o in sim.orders(user)]


# A copy listed with one of these is still waiting for its venue's answer (it is listed PENDING
# before it is sent), so it is not yet decided.
UNDECIDED = (events.FOLLOWER_ORDER_STATUS_PENDING, events.FOLLOWER_ORDER_STATUS_PLACED)


async def orders_of(replication, token_for, user) -> list[events.FollowerOrder]:
    """The user's copies, as ListFollowerOrders shows them to her."""
    return list((await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                      metadata=token_for(user))).orders)


async def test_master_trade_is_copied_sized_refused_and_never_doubled(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    master, master_sim, master_account = await enrol(sim, compliance, replication, token_for, "master",
                                                     rep.ACCOUNT_ROLE_MASTER, {"USDT": "100000"}, watch=True)
    plans = {
        "double": rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="2"),
        "fixed": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.003"),
        "notional": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_NOTIONAL, fixed_notional="320"),
        # Follower equity 50,000 against the master's 100,000: half the master's quantity.
        "equity": rep.CopySettings(sizing_mode=rep.SIZING_MODE_EQUITY_PROPORTIONAL),
        # 0.1 % of 50,000 at risk over a stop 1,000 away: 0.05.
        "risk": rep.CopySettings(sizing_mode=rep.SIZING_MODE_RISK_PERCENT, risk_percent="0.001",
                                 stop_distance="1000"),
        "denier": rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
                                   denied_symbols=["BTC/USDT"]),
        "halted": rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1"),
    }
    followers = {}
    for name, settings in plans.items():
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
            metadata=token_for(user))
        followers[name] = user
    await risk.ActivateKillSwitch(risk_pb.ActivateKillSwitchRequest(
        scope=risk_pb.TradingScope(user_id=followers["halted"]), reason="test"), metadata=token_for(followers["halted"]))
    refused: list[events.CopyRefused] = []

    async def on_refused(subject, event):
        refused.append(event)
    await bus.subscribe("copies.order.refused.*", on_refused)

    # The master trades with ccxt on their own account; replication is watching its stream.
    await eventually(lambda: bool(sim._streams.get(master_sim.api_key)), message="master stream watched")
    master_venue = CcxtVenue("binance", api_key=master_sim.api_key, secret=master_sim.secret,
                             config=ccxt_config(sim.url, rate_limit=False))
    await master_venue.connect()
    try:
        await master_venue.place_order(OrderRequest("master-order-1", "BTC/USDT", "buy", Decimal("0.01")))
    finally:
        await master_venue.close()

    price = sim.exchange.prices["BTCUSDT"]  # 64000: no price moves without a tick
    sized = ("double", "fixed", "notional", "equity", "risk")
    await eventually(lambda: all(venue_orders(sim, followers[name]) for name in sized), message="copies at the venue")
    assert [(side, qty) for _, side, qty in venue_orders(sim, followers["double"])] == [("BUY", Decimal("0.02"))]
    assert [(side, qty) for _, side, qty in venue_orders(sim, followers["fixed"])] == [("BUY", Decimal("0.003"))]
    assert [qty for _, _, qty in venue_orders(sim, followers["notional"])] == [Decimal("320") / price]
    assert [(side, qty) for _, side, qty in venue_orders(sim, followers["equity"])] == [("BUY", Decimal("0.005"))]
    assert [(side, qty) for _, side, qty in venue_orders(sim, followers["risk"])] == [("BUY", Decimal("0.05"))]
    await eventually(lambda: len(refused) >= 2, message="two refusals")
    reasons = {event.order.follower_id: event.refusal.reason for event in refused}
    assert reasons == {followers["denier"]: "SYMBOL_DENIED", followers["halted"]: "TRADING_HALTED"}
    assert venue_orders(sim, followers["denier"]) == venue_orders(sim, followers["halted"]) == []

    # The same fill again — a redelivery past JetStream's dedup — changes nothing at the venue.
    stored = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                   metadata=token_for(followers["double"]))).orders
    assert len(stored) == 1 and stored[0].status == events.FOLLOWER_ORDER_STATUS_FILLED
    fill_id = stored[0].master_fill_id
    replay = events.MasterFill(fill_id=fill_id, master_account_id=master_account.account_id, master_id=master,
                               symbol="BTC/USDT", side=trading_pb2.SIDE_BUY, quantity="0.01", price=str(price))
    replay.execute_time.GetCurrentTime()
    await bus.publish(f"fills.master.filled.{master_account.account_id}", replay, msg_id=f"{fill_id}-again")

    async def consumer_idle():
        info = await bus.js.consumer_info("FILLS", "replication")
        return info.num_pending == 0 and info.num_ack_pending == 0
    await eventually(consumer_idle, message="replay consumed")
    for name in sized:
        assert len(venue_orders(sim, followers[name])) == 1, name


async def test_signal_api_records_a_fill_once(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    master, _, account = await enrol(sim, compliance, replication, token_for, "signal", rep.ACCOUNT_ROLE_MASTER, {})
    request = rep.SubmitMasterFillRequest(master_account_id=account.account_id, venue_trade_id="T-1",
                                          symbol="BTC/USDT", side=trading_pb2.SIDE_BUY, quantity="0.5", price="64000")
    first = await replication.SubmitMasterFill(request, metadata=token_for(master))
    again = await replication.SubmitMasterFill(request, metadata=token_for(master))
    assert first.created and not again.created and first.fill.fill_id == again.fill.fill_id
    with pytest.raises(Exception) as err:  # someone else cannot signal for this master
        await replication.SubmitMasterFill(request, metadata=token_for("intruder"))
    assert "no such venue account" in str(err.value)


async def test_an_unknown_outcome_is_resolved_by_asking_the_venue_not_by_resending(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    follower, _, account = await enrol(sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
    session = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
        metadata=token_for(follower))).session
    # The venue takes the order but answers -1007 "execution status unknown", as Binance may.
    sim.inject(kind="unknown_after_accept", account=follower)
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-9", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))

    async def placed():
        orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(config_id=session.config_id),
                                                       metadata=token_for(follower))).orders
        return orders and orders[0].status == events.FOLLOWER_ORDER_STATUS_FILLED and orders[0]
    order = await eventually(placed, message="the unknown outcome resolved", timeout=15)
    assert venue_orders(sim, follower) == [(order.client_order_id, "BUY", Decimal("0.01"))]  # exactly one


async def test_copying_needs_approved_kyc_and_current_consent(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    _, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    user = f"new-{uuid.uuid4().hex[:6]}"
    sim_account = sim.create_account(user, {"USDT": "100"})
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=SPOT, api_key=sim_account.api_key, api_secret=sim_account.secret), metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=rep.ACCOUNT_ROLE_FOLLOWER, venue=SPOT, credential_id=credential.credential_id),
        metadata=token_for(user))).account
    start = rep.StartCopySessionRequest(follower_account_id=account.account_id,
                                        master_account_id=master_account.account_id,
                                        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER))

    async def refusal() -> str:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await replication.StartCopySession(start, metadata=token_for(user))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        return error_info(err.value).reason

    assert await refusal() == "KYC_NOT_APPROVED"
    await compliance.SubmitKyc(comp.SubmitKycRequest(user_id=user, legal_name="B Person", country="FR",
                                                     document_type="passport", document_number="X1"),
                               metadata=token_for(user))
    assert await refusal() == "KYC_NOT_APPROVED"  # pending is not approved
    await compliance.DecideKyc(comp.DecideKycRequest(user_id=user, approve=True), metadata=token_for("ops", "operator"))
    assert await refusal() == "CONSENT_MISSING"
    await compliance.RecordConsent(comp.RecordConsentRequest(user_id=user, document="risk_disclosure",
                                                             version="2026-01"), metadata=token_for(user))
    session = (await replication.StartCopySession(start, metadata=token_for(user))).session
    assert session.state == rep.SESSION_STATE_ACTIVE


async def test_a_spot_master_is_copied_to_a_perpetual_follower_through_the_symbol_map(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    follower, _, account = await enrol(sim, compliance, replication, token_for, "perp", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {}, futures_wallet="50000")
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="3", reverse=True,
                                  symbol_map=[rep.SymbolMapping(master_symbol="BTC/USDT",
                                                                follower_symbol="BTC/USDT:USDT")])),
        metadata=token_for(follower))
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-perp", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
    orders = await eventually(lambda: sim.futures_orders(follower), message="the perpetual copy")
    assert [(o.side, o.orig_qty) for o in orders] == [("SELL", Decimal("0.03"))]  # reversed, three times


async def test_master_closes_are_mirrored_proportionally_and_a_flip_reverses_the_follower(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    spot_plans = {"half": rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="0.5"),
                  "fixed": rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="0.003")}
    followers = {}
    for name, settings in spot_plans.items():
        user, _, account = await enrol(sim, compliance, replication, token_for, name, rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
        await replication.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
            metadata=token_for(user))
        followers[name] = user
    perp_user, _, perp_account = await enrol(sim, compliance, replication, token_for, "perp",
                                             rep.ACCOUNT_ROLE_FOLLOWER, {}, futures_wallet="50000")
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=perp_account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", reverse=True,
                                  symbol_map=[rep.SymbolMapping(master_symbol="BTC/USDT",
                                                                follower_symbol="BTC/USDT:USDT")])),
        metadata=token_for(perp_user))

    def spot(name):
        return [(side, qty) for _, side, qty in venue_orders(sim, followers[name])]

    def perps():
        return [(o.side, o.orig_qty, o.reduce_only) for o in sim.futures_orders(perp_user)]

    # The master opens 0.02, closes half, then sells 0.03: closes the rest and goes short 0.02.
    for n, (side, quantity) in enumerate([(trading_pb2.SIDE_BUY, "0.02"), (trading_pb2.SIDE_SELL, "0.01"),
                                          (trading_pb2.SIDE_SELL, "0.03")], start=1):
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=f"T-{n}", symbol="BTC/USDT", side=side,
            quantity=quantity, price="64000"), metadata=token_for(master))
        await eventually(lambda: len(spot("half")) == len(spot("fixed")) == len(perps()) == n,
                         message=f"copies of fill {n}")

    # Spot followers close half, then all they hold: the buy's fee was taken in BTC (0.1 %), so a
    # whole close sells what is left, and a short cannot be opened on spot.
    assert spot("half") == [("BUY", Decimal("0.01")), ("SELL", Decimal("0.005")), ("SELL", Decimal("0.00499"))]
    assert spot("fixed") == [("BUY", Decimal("0.003")), ("SELL", Decimal("0.0015")), ("SELL", Decimal("0.00149"))]
    # The reversed perpetual follower is short 0.02, buys back half reduce-only, then flips long 0.02.
    assert perps() == [("SELL", Decimal("0.02"), False), ("BUY", Decimal("0.01"), True),
                       ("BUY", Decimal("0.03"), False)]
    fill = (await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-3", symbol="BTC/USDT",
        side=trading_pb2.SIDE_SELL, quantity="0.03", price="64000"), metadata=token_for(master))).fill
    assert Decimal(fill.position_before) == Decimal("0.01")  # the stored fill, with the position it met


async def test_a_fill_jetstream_hands_over_after_a_later_one_is_still_copied_first(copy_mesh, nats_server,
                                                                                     token_for):
    """An open stored by replication whose publish was lost in flight (NATS restarting) reaches
    the workers only after the close that follows it — JetStream redelivers after the ack wait.
    The close copies the open first, so the follower opens and closes instead of finding
    nothing to close; the open's late delivery then changes nothing."""
    started = await copy_mesh(seed=5)
    sim = started.sim
    compliance = ComplianceServiceStub(started.compliance.channel)
    replication = ReplicationServiceStub(started.replication.channel)
    copier = started.replication.running.components["copier"]
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    follower, _, account = await enrol(sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")), metadata=token_for(follower))

    opened = events.MasterFill(fill_id=f"{master_account.account_id}:T-1", master_account_id=master_account.account_id,
                               master_id=master, venue=SPOT, venue_trade_id="T-1", symbol="BTC/USDT",
                               side=trading_pb2.SIDE_BUY, quantity="0.02", price="64000")
    opened.execute_time.GetCurrentTime()
    opened, created, _ = await fills.record(copier.db, opened)  # stored; on no stream yet
    assert created
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-2", symbol="BTC/USDT",
        side=trading_pb2.SIDE_SELL, quantity="0.02", price="64000"), metadata=token_for(master))
    await eventually(lambda: len(venue_orders(sim, follower)) == 2, message="the open and the close copied")
    (_, first_side, first_qty), (_, second_side, _) = venue_orders(sim, follower)
    assert (first_side, first_qty, second_side) == ("BUY", Decimal("0.02"), "SELL")

    bus = await Bus.connect(nats_server.url, "test-late-delivery")
    try:
        await bus.publish(fills.fill_subject(master_account.account_id), opened, msg_id=opened.fill_id)
    finally:
        await bus.close()
    # The next fill is copied after the late delivery (one worker takes the stream in order).
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-3", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
    await eventually(lambda: len(venue_orders(sim, follower)) >= 3, message="the next fill copied")
    assert [(side, qty) for _, side, qty in venue_orders(sim, follower)][::2] == [
        ("BUY", Decimal("0.02")), ("BUY", Decimal("0.01"))]  # the open once, then the next fill
    orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(), metadata=token_for(follower))).orders
    assert sorted(events.FollowerOrderStatus.Name(o.status) for o in orders) == ["FOLLOWER_ORDER_STATUS_FILLED"] * 3


async def test_settings_change_by_mask_orders_and_fills_read_back_and_accounts_delete_when_free(mesh, token_for):
    sim, compliance, risk, replication, bus = mesh
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    follower, _, account = await enrol(sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000", "BTC": "1"})  # BTC to sell: the copy is reversed
    session = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", reverse=True)),
        metadata=token_for(follower))).session
    # Only the multiplier changes; reverse stays as it was.
    updated = (await replication.UpdateCopySettings(rep.UpdateCopySettingsRequest(
        config_id=session.config_id, settings=rep.CopySettings(multiplier="0.5"),
        update_mask={"paths": ["multiplier"]}), metadata=token_for(follower))).session
    assert (updated.settings.multiplier, updated.settings.reverse) == ("0.5", True)
    with pytest.raises(grpc.aio.AioRpcError) as bad:  # the merged result is checked as a whole
        await replication.UpdateCopySettings(rep.UpdateCopySettingsRequest(
            config_id=session.config_id, settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY),
            update_mask={"paths": ["sizing_mode"]}), metadata=token_for(follower))
    assert error_info(bad.value).reason == "INVALID_SETTINGS"

    for n in range(3):
        await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id=f"T-read-{n}", symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.02", price="64000"), metadata=token_for(master))
    await eventually(lambda: len(sim.orders(follower)) == 3, message="three copies")
    assert [(o.side, o.orig_qty) for o in sim.orders(follower)] == [("SELL", Decimal("0.01"))] * 3

    fills = (await replication.ListMasterFills(rep.ListMasterFillsRequest(
        master_account_id=master_account.account_id, page_size=2), metadata=token_for(master)))
    more = (await replication.ListMasterFills(rep.ListMasterFillsRequest(
        master_account_id=master_account.account_id, page_size=2, page_token=fills.next_page_token),
        metadata=token_for(master)))
    assert [f.venue_trade_id for f in [*fills.fills, *more.fills]] == ["T-read-2", "T-read-1", "T-read-0"]
    assert not more.next_page_token
    orders = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(), metadata=token_for(follower)))
    newest = orders.orders[0]
    assert newest.master_fill_id.endswith("T-read-2")  # newest first
    one = (await replication.GetFollowerOrder(rep.GetFollowerOrderRequest(order_id=newest.order_id),
                                              metadata=token_for(follower))).order
    assert one == newest
    for call, request in ((replication.GetFollowerOrder, rep.GetFollowerOrderRequest(order_id=newest.order_id)),
                          (replication.ListMasterFills, rep.ListMasterFillsRequest(
                              master_account_id=master_account.account_id))):
        with pytest.raises(grpc.aio.AioRpcError) as other:  # someone else's: not found, never shown
            await call(request, metadata=token_for("somebody-else"))
        assert other.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.aio.AioRpcError) as busy:
        await replication.DeleteVenueAccount(rep.DeleteVenueAccountRequest(account_id=account.account_id),
                                             metadata=token_for(follower))
    assert error_info(busy.value).reason == "ACCOUNT_IN_USE"
    await replication.StopCopySession(rep.StopCopySessionRequest(config_id=session.config_id),
                                      metadata=token_for(follower))
    await replication.DeleteVenueAccount(rep.DeleteVenueAccountRequest(account_id=account.account_id),
                                         metadata=token_for(follower))
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await replication.GetVenueAccount(rep.GetVenueAccountRequest(account_id=account.account_id),
                                          metadata=token_for(follower))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_deleted_account_leaves_no_open_connection_holding_its_keys(copy_mesh, token_for):
    started = await copy_mesh(seed=7)
    sim, pool = started.sim, started.replication.running.components["pool"]
    compliance = ComplianceServiceStub(started.compliance.channel)
    replication = ReplicationServiceStub(started.replication.channel)
    master, _, master_account = await enrol(sim, compliance, replication, token_for, "m", rep.ACCOUNT_ROLE_MASTER, {})
    follower, _, account = await enrol(sim, compliance, replication, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                       {"USDT": "50000"})
    session = (await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id,
        settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
        metadata=token_for(follower))).session
    await replication.SubmitMasterFill(rep.SubmitMasterFillRequest(
        master_account_id=master_account.account_id, venue_trade_id="T-del", symbol="BTC/USDT",
        side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
    await eventually(lambda: len(sim.orders(follower)) == 1, message="a copy, so the follower's venue is open")
    assert pool.holds(account.account_id)
    await replication.StopCopySession(rep.StopCopySessionRequest(config_id=session.config_id),
                                      metadata=token_for(follower))
    await replication.DeleteVenueAccount(rep.DeleteVenueAccountRequest(account_id=account.account_id),
                                         metadata=token_for(follower))
    await eventually(lambda: not pool.holds(account.account_id), message="the connection and its keys dropped")
