"""Futures copies through the real mesh: a master trades ES on Rithmic (the R|Protocol
simulator, through async_rithmic); replication watches the master's own fill stream and places
each follower's copy through the adapter the vault's credential opens — NinjaTrader 8 (ATI
files in the NinjaTrader simulator's folder) and another Rithmic account. Verified by asking
each simulator what reached it."""

from decimal import Decimal

import pytest_asyncio

from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.type.v1 import trading_pb2
from services.kit.testing import eventually
from services.replication.venues.base import OrderRequest
from tests.replication.conftest import NINJATRADER, RITHMIC, enrol, follow, raise_position_cap, trade_on_rithmic
from venue_sim.ninjatrader import NinjaTraderSim
from venue_sim.rithmic import RithmicSim


@pytest_asyncio.fixture
async def futures_mesh(services_on, tmp_path):
    master_sim = await RithmicSim(user="master", password="m-pw", account_id="MASTER-1", balance="500000",
                                  prices={"ES": "5000"}).start()
    follower_sim = await RithmicSim(user="follower", password="f-pw", account_id="FOLLOW-1", balance="500000",
                                    prices={"ES": "5000"}).start()
    nt_sim = await NinjaTraderSim(tmp_path / "nt", account="Sim101", connection="Rithmic", cash="500000",
                                  prices={"ES": "5000"}).start()
    # Both Rithmic accounts behind one gateway URL in production; two simulators here, one per
    # venue id, so each side's orders are counted on its own.
    stubs = await services_on({"rithmic": master_sim.url, "rithmic_2": follower_sim.url,
                               "ninjatrader": f"file://{tmp_path / 'nt'}"})
    yield master_sim, follower_sim, nt_sim, stubs.compliance, stubs.replication, stubs.risk
    await nt_sim.stop()
    await follower_sim.stop()
    await master_sim.stop()


async def test_a_rithmic_master_is_copied_to_ninjatrader_and_rithmic_followers(futures_mesh, token_for):
    master_sim, follower_sim, nt_sim, compliance, replication, risk = futures_mesh
    _, master_account = await enrol(compliance, replication, token_for, "master", rep.ACCOUNT_ROLE_MASTER, RITHMIC,
                                    "master", "m-pw", f"{master_sim.system_name}|MASTER-1", watch=True)
    rithmic_follower = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_RITHMIC, id="rithmic_2",
                                         market_type=trading_pb2.MARKET_TYPE_FUTURE)
    followers = [
        # NinjaTrader: account name, its cash as the secret, the connection name as the passphrase.
        (NINJATRADER, "Sim101", "500000", "Rithmic", rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER,
                                                                      multiplier="2")),
        (rithmic_follower, "follower", "f-pw", follower_sim.system_name,
         rep.CopySettings(sizing_mode=rep.SIZING_MODE_FIXED_QUANTITY, fixed_quantity="1")),
    ]
    for venue, api_key, secret, passphrase, settings in followers:
        user, account = await enrol(compliance, replication, token_for, venue.id, rep.ACCOUNT_ROLE_FOLLOWER, venue,
                                    api_key, secret, passphrase)
        await follow(replication, token_for, user, account, master_account, settings)
        await raise_position_cap(risk, token_for, user)

    await trade_on_rithmic(master_sim, "master", "m-pw", "MASTER-1", OrderRequest("master-1", "ES", "sell", Decimal(3)))

    await eventually(lambda: nt_sim.position("ES") == -6 and follower_sim.position("ES") == -1,
                     message="copies at both followers' venues", timeout=15)
    [nt_order] = nt_sim.orders()
    assert (nt_order.action, nt_order.quantity, nt_order.state) == ("SELL", 6, "FILLED")
    [rithmic_order] = follower_sim.orders.values()
    assert (rithmic_order.quantity, rithmic_order.filled) == (1, 1)
    assert nt_order.order_id and rithmic_order.user_tag and nt_order.order_id != rithmic_order.user_tag  # per follower
