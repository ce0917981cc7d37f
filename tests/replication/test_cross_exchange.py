"""Cross-exchange copying through the mesh: a master on Binance USDⓈ-M perpetuals copied to
followers on Bybit linear perpetuals, and a master on Bybit copied to Binance; a master on OKX
perpetuals copied to KuCoin and Binance. Each venue is its own simulator speaking its own
protocol; the symbol mapping and quantity conversion come from the markets each publishes
(Binance's 1000PEPE contract is 1000 of Bybit's PEPE; an OKX BTC contract is 0.01 BTC, a KuCoin
one 0.001), and a manual map in the copy settings wins. Verified by asking the simulators what
reached them."""

import uuid
from decimal import Decimal

import pytest_asyncio

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from services.replication.venues.ccxt_venue import CcxtVenue
from tests.replication.test_copy_flow import verify
from venue_sim import ccxt_config
from venue_sim.book import DEFAULT_SYMBOLS, Symbol

# The same meme coin, listed per 1000 on Binance and per coin on Bybit (prices agree: 0.01 = 1000 x 0.00001).
BINANCE_PEPE = Symbol("1000PEPEUSDT", "1000PEPE", "USDT", Decimal("0.0000001"), Decimal(1), Decimal(1), Decimal(5),
                      Decimal("0.0100000"), max_qty=Decimal(10_000_000))
BYBIT_PEPE = Symbol("PEPEUSDT", "PEPE", "USDT", Decimal("0.00000001"), Decimal(100), Decimal(100), Decimal(5),
                    Decimal("0.00001000"), max_qty=Decimal(10_000_000_000))
SYMBOLS = {"binance": (*DEFAULT_SYMBOLS, BINANCE_PEPE), "bybit": (*DEFAULT_SYMBOLS, BYBIT_PEPE)}


@pytest_asyncio.fixture
async def mesh(copy_mesh):
    started = await copy_mesh(seed=11, venues=("binance", "bybit"), symbols=SYMBOLS)
    yield started.sims, ComplianceServiceStub(started.compliance.channel), \
        ReplicationServiceStub(started.replication.channel)


async def enrol(sims, compliance, replication, token_for, venue_id, name, role, *, watch=False):
    """A verified user with a funded perpetuals account on that venue's simulator, keys (and the
    passphrase OKX and KuCoin keys have) in the vault."""
    user = f"{name}-{uuid.uuid4().hex[:6]}"
    await verify(compliance, token_for, user)
    sim_account = sims[venue_id].create_account(user, {"USDT": "100000"}, futures_wallet="100000")
    venue = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id=venue_id,
                              market_type=trading_pb2.MARKET_TYPE_PERPETUAL)
    credential = (await compliance.StoreCredential(comp.StoreCredentialRequest(
        venue=venue, api_key=sim_account.api_key, api_secret=sim_account.secret, passphrase=sim_account.passphrase),
        metadata=token_for(user))).credential
    account = (await replication.CreateVenueAccount(rep.CreateVenueAccountRequest(
        role=role, venue=venue, credential_id=credential.credential_id, watch_fills=watch),
        metadata=token_for(user))).account
    return user, sim_account, account


async def follow(replication, token_for, user, account, master_account, settings):
    await replication.StartCopySession(rep.StartCopySessionRequest(
        follower_account_id=account.account_id, master_account_id=master_account.account_id, settings=settings),
        metadata=token_for(user))


def at_venue(sim, user):
    """(symbol, side, quantity) of every perpetual order the venue holds for the account."""
    return sorted((o.symbol, o.side, o.orig_qty) for o in sim.futures_orders(user))


async def trade(sim, venue_id, sim_account, orders):
    venue = CcxtVenue(venue_id, api_key=sim_account.api_key, secret=sim_account.secret,
                      password=sim_account.passphrase, market_type="swap",
                      config=ccxt_config(sim.url, rate_limit=False, market="swap", exchange=venue_id))
    await venue.connect()
    try:
        for symbol, quantity in orders:
            await venue.place_order(OrderRequest(f"m{uuid.uuid4().hex[:12]}", symbol, "buy", Decimal(quantity)))
    finally:
        await venue.close()


async def test_binance_master_is_copied_to_bybit_and_bybit_master_to_binance(mesh, token_for):
    sims, compliance, replication = mesh
    binance, bybit = sims["binance"], sims["bybit"]
    multiplier = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")

    # Binance perpetuals master; two Bybit linear followers, one with a manual map for BTC.
    master, master_sim, master_account = await enrol(sims, compliance, replication, token_for, "binance",
                                                     "bn-master", rep.ACCOUNT_ROLE_MASTER, watch=True)
    auto, _, auto_account = await enrol(sims, compliance, replication, token_for, "bybit", "auto",
                                        rep.ACCOUNT_ROLE_FOLLOWER)
    manual, _, manual_account = await enrol(sims, compliance, replication, token_for, "bybit", "manual",
                                            rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, auto, auto_account, master_account, multiplier)
    await follow(replication, token_for, manual, manual_account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1", symbol_map=[rep.SymbolMapping(
            master_symbol="BTC/USDT:USDT", follower_symbol="ETH/USDT:USDT", contract_ratio="20")]))
    await eventually(lambda: binance.stream_subscribed(master, "futures"), message="binance master watched")
    await trade(binance, "binance", master_sim, [("BTC/USDT:USDT", "0.01"), ("1000PEPE/USDT:USDT", "1000")])

    await eventually(lambda: len(at_venue(bybit, auto)) == 2 and len(at_venue(bybit, manual)) == 2,
                     message="copies at bybit", timeout=15)
    assert at_venue(bybit, auto) == [("BTCUSDT", "BUY", Decimal("0.01")), ("PEPEUSDT", "BUY", Decimal(1_000_000))]
    assert at_venue(bybit, manual) == [("ETHUSDT", "BUY", Decimal("0.2")), ("PEPEUSDT", "BUY", Decimal(1_000_000))]
    assert all(o.status == "FILLED" for o in bybit.futures_orders(auto))
    # Each copy says how long the venue's request budget held it back (none here: no burst).
    recorded = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(), metadata=token_for(auto))).orders
    assert len(recorded) == 2 and all(o.HasField("budget_delay") for o in recorded)

    # And the other way: a Bybit linear master, a Binance perpetuals follower.
    bb_master, bb_master_sim, bb_master_account = await enrol(sims, compliance, replication, token_for, "bybit",
                                                              "bb-master", rep.ACCOUNT_ROLE_MASTER, watch=True)
    back, _, back_account = await enrol(sims, compliance, replication, token_for, "binance", "back",
                                        rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, back, back_account, bb_master_account, multiplier)
    await eventually(lambda: bybit.stream_subscribed(bb_master), message="bybit master watched")
    await trade(bybit, "bybit", bb_master_sim, [("PEPE/USDT:USDT", "2000000"), ("SOL/USDT:USDT", "1.5")])
    await eventually(lambda: len(at_venue(binance, back)) == 2, message="copies at binance", timeout=15)
    assert at_venue(binance, back) == [("1000PEPEUSDT", "BUY", Decimal(2000)), ("SOLUSDT", "BUY", Decimal("1.5"))]


@pytest_asyncio.fixture
async def okx_mesh(copy_mesh):
    started = await copy_mesh(seed=13, venues=("okx", "kucoin", "binance"))
    yield started.sims, ComplianceServiceStub(started.compliance.channel), \
        ReplicationServiceStub(started.replication.channel)


def contracts_at(sim, user):
    """(symbol, side, coins) of every perpetual order the venue holds for the account, filled."""
    return sorted((o.symbol, o.side, o.orig_qty) for o in sim.futures_orders(user) if o.status == "FILLED")


async def test_an_okx_master_is_copied_to_kucoin_and_binance_followers(okx_mesh, token_for):
    sims, compliance, replication = okx_mesh
    okx, kucoin, binance = sims["okx"], sims["kucoin"], sims["binance"]
    multiplier = rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")
    master, master_sim, master_account = await enrol(sims, compliance, replication, token_for, "okx",
                                                     "okx-master", rep.ACCOUNT_ROLE_MASTER, watch=True)
    followers = {}
    for venue_id in ("kucoin", "binance"):
        user, _, account = await enrol(sims, compliance, replication, token_for, venue_id, f"{venue_id}-f",
                                       rep.ACCOUNT_ROLE_FOLLOWER)
        await follow(replication, token_for, user, account, master_account, multiplier)
        followers[venue_id] = user
    # Replication watches the master on OKX's private stream (login, then the orders channel).
    await eventually(lambda: okx.stream_subscribed(master), message="okx master watched")
    # 2 OKX contracts of BTC (0.01 each) and 3 of ETH (0.1 each).
    await trade(okx, "okx", master_sim, [("BTC/USDT:USDT", "2"), ("ETH/USDT:USDT", "3")])

    def copied():
        return len(contracts_at(kucoin, followers["kucoin"])) == 2 and \
            len(contracts_at(binance, followers["binance"])) == 2
    await eventually(copied, message="copies at kucoin and binance", timeout=15)
    # The same coins everywhere: 0.02 BTC and 0.3 ETH (on KuCoin, 20 XBTUSDTM and 30 ETHUSDTM contracts),
    # valued by risk at what they are worth (1,280 and 960 USDT, within the default 5,000 position limit).
    expected = [("BTCUSDT", "BUY", Decimal("0.02")), ("ETHUSDT", "BUY", Decimal("0.3"))]
    assert contracts_at(kucoin, followers["kucoin"]) == expected
    assert contracts_at(binance, followers["binance"]) == expected
    assert len(kucoin.futures_orders(followers["kucoin"])) == len(binance.futures_orders(followers["binance"])) == 2
    for user in followers.values():
        recorded = (await replication.ListFollowerOrders(rep.ListFollowerOrdersRequest(),
                                                         metadata=token_for(user))).orders
        assert sorted(Decimal(o.quantity) for o in recorded) == (
            [Decimal(20), Decimal(30)] if user == followers["kucoin"] else [Decimal("0.02"), Decimal("0.3")])

