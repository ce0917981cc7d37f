"""A loopback venue that speaks Binance's own wire protocol (spot REST, the WebSocket API's
user-data stream, HMAC signatures), so unmodified ccxt and ccxt.pro trade against it with
only their URLs changed. Deterministic under a seed, inspectable, and able to inject faults.

    sim = await Simulator(seed=1).start()          # http://127.0.0.1:<port>
    exchange = ccxt.pro.binance({**ccxt_config(sim.url), "apiKey": key, "secret": secret})
"""

from venue_sim.ccxt_config import ccxt_config, ccxt_urls
from venue_sim.server import Simulator

__all__ = ["Simulator", "ccxt_config", "ccxt_urls"]
