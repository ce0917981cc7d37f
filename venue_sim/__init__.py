"""A loopback venue that speaks Binance's own wire protocol — spot REST, USDⓈ-M futures REST,
the WebSocket API user-data stream, listenKey streams, HMAC signatures — or, with
dialect="bybit", Bybit's v5 (spot and linear REST, its signing, retCodes and request limits, the
private WebSocket); dialect="okx", OKX's v5 (spot and SWAP, passphrase signing, the private
orders channel); dialect="kucoin", KuCoin's spot HF and futures APIs (bullet-private streams);
dialect="coinbase", Coinbase Advanced Trade (spot; ES256 JWTs, the `user` channel); and
dialect="kraken", Kraken spot (API-Sign over a nonce, WebSocket v2 `executions`) —
so unmodified ccxt and ccxt.pro trade against it with only their URLs changed. Deterministic under a seed,
inspectable through an admin API, and able to inject faults.

    sim = await Simulator(seed=1).start()          # http://127.0.0.1:<port>
    account = sim.create_account("alice", {"USDT": "10000"})
    exchange = ccxt.pro.binance({**ccxt_config(sim.url), "apiKey": account.api_key, "secret": account.secret})
    os.environ["VENUE_URLS"] = json.dumps(venue_urls(sim.url))  # services trading there (ccxt_urls per venue)

Modules, one per role: book (prices, accounts, spot matching), perp_book (perpetuals),
auth, spot and futures (REST), userdata (WebSockets), faults, admin, wire (JSON shapes),
server (the Simulator), ccxt_config, cli; bybit, bybit_wire, bybit_limits, bybit_userdata;
okx, okx_wire, okx_userdata; kucoin, kucoin_wire, kucoin_userdata; coinbase, coinbase_wire,
coinbase_userdata; kraken, kraken_wire, kraken_userdata.
"""

from venue_sim.ccxt_config import ccxt_config, ccxt_urls, venue_urls
from venue_sim.server import Simulator

__all__ = ["Simulator", "ccxt_config", "ccxt_urls", "venue_urls"]
