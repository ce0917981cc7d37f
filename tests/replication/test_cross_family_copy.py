"""Copying across venue families, end to end through the mesh: a master trades ES on their own
Rithmic account (the R|Protocol simulator, through async_rithmic); replication sees the fill on
the master's order notifications and copies it to a follower on Interactive Brokers trading MES
(the TWS API simulator, through ib_async) and to one on Binance USDⓈ-M perpetuals trading
BTC/USDT:USDT (the Binance-protocol simulator, through ccxt). Each copy is verified by asking
its own simulator what reached it."""

from decimal import Decimal

import pytest_asyncio

from copytrade.replication.v1 import replication_service_pb2 as rep
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from tests.replication.conftest import RITHMIC, enrol, enrol_ib, follow, raise_position_cap, trade_on_rithmic
from tests.replication.test_copy_flow import enrol as enrol_binance
from venue_sim import Simulator, ccxt_urls
from venue_sim.cme import FUTURES  # CME's contract sizes, as the venue has them
from venue_sim.ib import IbSimulator
from venue_sim.rithmic import RithmicSim


@pytest_asyncio.fixture
async def cross_mesh(services_on):
    rithmic = await RithmicSim(user="master", password="m-pw", account_id="MASTER-1", balance="500000",
                               prices={"ES": "5000"}).start()
    ib = await IbSimulator(seed=3).start()
    binance = await Simulator(seed=5).start()
    stubs = await services_on({"rithmic": rithmic.url, "ib": f"127.0.0.1:{ib.port}", "binance": ccxt_urls(binance.url)})
    yield rithmic, ib, binance, stubs
    await binance.stop()
    await ib.stop()
    await rithmic.stop()


async def test_a_rithmic_es_master_is_copied_to_ib_as_mes_and_to_binance_perpetuals(cross_mesh, token_for):
    rithmic, ib, binance, stubs = cross_mesh
    compliance, replication, risk = stubs.compliance, stubs.replication, stubs.risk
    _, master_account = await enrol(compliance, replication, token_for, "master", rep.ACCOUNT_ROLE_MASTER, RITHMIC,
                                    "master", "m-pw", f"{rithmic.system_name}|MASTER-1", watch=True)

    # IB: the same exposure in micros. contract_ratio is master contract size / follower's: 50 / 5.
    ib_user, ib_code, ib_account = await enrol_ib(ib, compliance, replication, token_for, "ib",
                                                  rep.ACCOUNT_ROLE_FOLLOWER)
    ratio = FUTURES["ES"].multiplier / FUTURES["MES"].multiplier
    await follow(replication, token_for, ib_user, ib_account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
        symbol_map=[rep.SymbolMapping(master_symbol="ES", follower_symbol="MES", contract_ratio=str(ratio))]))
    await raise_position_cap(risk, token_for, ib_user)  # 20 MES at 5,000 x 5 is 500,000 of exposure
    # A second IB follower may hold 300,000: risk values each MES at 25,000, so 12 of the 20 go out.
    capped_ib_user, capped_ib_code, capped_ib_account = await enrol_ib(ib, compliance, replication, token_for,
                                                                       "ib-capped", rep.ACCOUNT_ROLE_FOLLOWER)
    await follow(replication, token_for, capped_ib_user, capped_ib_account, master_account, rep.CopySettings(
        sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1",
        symbol_map=[rep.SymbolMapping(master_symbol="ES", follower_symbol="MES", contract_ratio=str(ratio))]))
    await raise_position_cap(risk, token_for, capped_ib_user, "300000")

    # Binance: a fixed notional of USDT in BTC perpetuals, bought at BTC's price (not ES's).
    btc = binance.exchange.prices["BTCUSDT"]
    notional = btc * Decimal("0.05")
    perp_users = []
    # The second follower's position cap holds half of that, valued at BTC's price by risk.
    for cap in ("2000000", str(notional / 2)):
        perp_user, _, perp_account = await enrol_binance(binance, compliance, replication, token_for, "perp",
                                                         rep.ACCOUNT_ROLE_FOLLOWER, {}, futures_wallet="50000")
        await follow(replication, token_for, perp_user, perp_account, master_account, rep.CopySettings(
            sizing_mode=rep.SIZING_MODE_FIXED_NOTIONAL, fixed_notional=str(notional),
            symbol_map=[rep.SymbolMapping(master_symbol="ES", follower_symbol="BTC/USDT:USDT")]))
        await raise_position_cap(risk, token_for, perp_user, cap)
        perp_users.append(perp_user)

    await trade_on_rithmic(rithmic, "master", "m-pw", "MASTER-1", OrderRequest("master-es-1", "ES", "sell",
                                                                                 Decimal(2)))

    ib_orders = await eventually(lambda: ib.orders(ib_code), message="the MES copy at the IB simulator", timeout=15)
    assert [(o.contract.symbol, o.action, o.quantity, o.status) for o in ib_orders] == [
        ("MES", "SELL", Decimal(20), "Filled")]
    # 2 ES x 50 = 20 MES x 5: the follower holds the master's exposure per index point.
    assert ib_orders[0].quantity * ib_orders[0].contract.multiplier == 2 * FUTURES["ES"].multiplier
    capped = await eventually(lambda: ib.orders(capped_ib_code), message="the capped MES copy", timeout=15)
    assert [(o.contract.symbol, o.action, o.quantity) for o in capped] == [("MES", "SELL", Decimal(12))]
    perp_orders, capped_orders = [await eventually(lambda user=user: binance.futures_orders(user), timeout=15,
                                                   message="the BTC perpetual copy at the Binance simulator")
                                  for user in perp_users]
    assert [(o.symbol, o.side, o.orig_qty) for o in perp_orders] == [("BTCUSDT", "SELL", Decimal("0.05"))]
    assert [(o.symbol, o.side, o.orig_qty) for o in capped_orders] == [("BTCUSDT", "SELL", Decimal("0.025"))]
    [master_order] = rithmic.orders.values()
    assert master_order.user_tag not in {ib_orders[0].order_ref, perp_orders[0].client_order_id}
