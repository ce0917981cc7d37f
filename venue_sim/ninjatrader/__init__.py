"""NinjaTrader 8's side of its Automated Trading Interface (ATI) file interface, on a folder:
consumes order instruction files (oif*.txt) from `incoming`, executes them against a simulated
account, and writes order-state, position and connection-state files to `outgoing` as NT8 does.

    sim = await NinjaTraderSim(folder, account="Sim101", cash="100000", prices={"ES": "5000"}).start()
    sim.set_price("ES", "4990"); sim.orders(order_id="ct1"); await sim.stop()
"""

from venue_sim.ninjatrader.sim import NinjaTraderSim

__all__ = ["NinjaTraderSim"]
