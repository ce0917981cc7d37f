"""CcxtVenue: any ccxt exchange through ccxt's async API, with ccxt.pro's user-data stream for
fills. Pointed at a simulator (or a testnet) by configuration alone: the `config` dict is
passed to the ccxt constructor, which deep-merges `urls` and `options`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from ccxt.base import errors as ccxt_errors

from services.replication.venues.base import (
    ZERO, AccountSnapshot, Balance, ErrorKind, Fill, Instrument, OrderRequest, OrderState, Position, VenueError,
)

log = logging.getLogger("copytrade.venue.ccxt")
STREAM_BACKOFF_S = (0.1, 0.5, 1, 2, 5)


def _dec(value, default: Decimal = ZERO) -> Decimal:
    return default if value is None else Decimal(str(value))


def classify(exc: BaseException, *, order_sent: bool, retry_after: float | None = None) -> VenueError:
    """What a ccxt failure means for the caller. For an order that was sent, anything that may
    have happened after the venue received it is UNKNOWN_OUTCOME: ask before re-sending."""
    if isinstance(exc, VenueError):
        return exc
    message = str(exc)[:500]
    if isinstance(exc, (ccxt_errors.DDoSProtection, ccxt_errors.RateLimitExceeded)):
        return VenueError(ErrorKind.RATE_LIMIT, message, retry_after)
    if isinstance(exc, ccxt_errors.NetworkError) and _never_sent(exc.__cause__):
        return VenueError(ErrorKind.NETWORK, message)
    if isinstance(exc, ccxt_errors.InvalidNonce):
        return VenueError(ErrorKind.PLATFORM, message)  # clock skew: refused before execution
    if isinstance(exc, ccxt_errors.OperationFailed):  # network errors, timeouts, 5xx, -1007
        if order_sent:
            return VenueError(ErrorKind.UNKNOWN_OUTCOME, message)
        if isinstance(exc, ccxt_errors.RequestTimeout):
            return VenueError(ErrorKind.TIMEOUT, message)
        if isinstance(exc, ccxt_errors.NetworkError):
            return VenueError(ErrorKind.NETWORK, message)
        return VenueError(ErrorKind.PLATFORM, message)
    if isinstance(exc, (ccxt_errors.InsufficientFunds, ccxt_errors.InvalidOrder, ccxt_errors.BadRequest,
                        ccxt_errors.OperationRejected)):
        return VenueError(ErrorKind.REJECTED, message)
    if isinstance(exc, ccxt_errors.BaseError):  # authentication, permissions, other exchange errors
        return VenueError(ErrorKind.PLATFORM, message)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.TIMEOUT, message)
    return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM, message)


def _never_sent(cause: BaseException | None) -> bool:
    """True when the request provably never reached the venue: no connection was made, or the
    request could not be written (an incomplete request is never executed)."""
    if isinstance(cause, aiohttp.ClientConnectorError):
        return True
    return isinstance(cause, aiohttp.ClientOSError) and "Can not write request" in str(cause)


class CcxtVenue:
    def __init__(self, exchange_id: str, *, api_key: str, secret: str, password: str = "",
                 market_type: str = "spot", config: dict | None = None) -> None:
        cls = getattr(ccxt_pro, exchange_id, None) or getattr(ccxt_async, exchange_id, None)
        if cls is None:
            raise ValueError(f"ccxt has no exchange {exchange_id!r}")
        params = {"apiKey": api_key, "secret": secret, "enableRateLimit": True, **(config or {})}
        if password:
            params["password"] = password
        params.setdefault("options", {}).setdefault("defaultType", market_type)
        self.exchange = cls(params)
        self.exchange_id = exchange_id
        self.market_type = market_type
        self._instruments: dict[str, Instrument] = {}
        self._closed = asyncio.Event()

    async def _call(self, method, *args, order_sent: bool = False, **kwargs):
        try:
            return await method(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            headers = getattr(self.exchange, "last_response_headers", None) or {}
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
            raise classify(self._market_specific(exc), order_sent=order_sent,
                           retry_after=float(retry_after) if retry_after else None) from exc

    def _market_specific(self, exc: Exception) -> Exception:
        """ccxt picks some exchanges' per-market error tables by hostname (binance's futures
        codes such as -2019 "Margin is insufficient"), so behind any other URL (a simulator, a
        proxy) those errors arrive as a bare ExchangeError. Apply the market's table here."""
        if type(exc) is not ccxt_errors.ExchangeError:
            return exc
        text = str(exc)  # ccxt puts the venue's body in the message: 'binance {"code":-2019,...}'
        try:
            body = json.loads(text[text.index("{"):])
        except ValueError:
            body = None
        code = str(body.get("code")) if isinstance(body, dict) and "code" in body else None
        market = {"swap": "linear", "future": "linear"}.get(self.market_type, self.market_type)
        table = (self.exchange.exceptions.get(market) or {}).get("exact", {}) if code else {}
        return table[code](str(exc)) if code in table else exc

    async def connect(self) -> None:
        await self._call(self.exchange.load_markets)
        self._instruments = {symbol: self._instrument(m) for symbol, m in self.exchange.markets.items()}

    async def close(self) -> None:
        self._closed.set()
        await self.exchange.close()

    def _instrument(self, market: dict) -> Instrument:
        limits = market.get("limits") or {}
        lot = _dec(market["precision"].get("amount"), Decimal("0.00000001"))
        return Instrument(
            symbol=market["symbol"], venue_symbol=market["id"], base=market["base"], quote=market["quote"],
            tick_size=_dec(market["precision"].get("price"), Decimal("0.00000001")), lot_size=lot,
            min_quantity=_dec((limits.get("amount") or {}).get("min"), lot),
            min_notional=_dec((limits.get("cost") or {}).get("min")),
            contract_size=_dec(market.get("contractSize"), Decimal(1)))

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            await self.connect()
        return self._instruments

    async def instrument(self, symbol: str) -> Instrument:
        instruments = await self.instruments()
        if symbol not in instruments:
            raise VenueError(ErrorKind.REJECTED, f"{self.exchange_id} has no instrument {symbol}")
        return instruments[symbol]

    async def account(self) -> AccountSnapshot:
        raw = await self._call(self.exchange.fetch_balance)
        balances = {asset: Balance(asset, _dec(v.get("free")), _dec(v.get("used")))
                    for asset, v in raw.items() if isinstance(v, dict) and "free" in v and _dec(v.get("total"))}
        return AccountSnapshot(balances=balances, equity=await self._equity(balances))

    async def _equity(self, balances: dict[str, Balance]) -> Decimal:
        """Everything valued in the quote currency of the account's markets (USDT by default)."""
        quote = "USDT"
        equity = balances[quote].total if quote in balances else ZERO
        held = [a for a in balances if a != quote and f"{a}/{quote}" in self._instruments]
        if held:
            tickers = await self._call(self.exchange.fetch_tickers, [f"{a}/{quote}" for a in held])
            for asset in held:
                last = (tickers.get(f"{asset}/{quote}") or {}).get("last")
                equity += balances[asset].total * _dec(last)
        return equity

    async def positions(self) -> list[Position]:
        if self.market_type == "spot":  # a spot position is a holding of a base asset
            snapshot = await self.account()
            return [Position(f"{a}/USDT", b.total) for a, b in snapshot.balances.items()
                    if a != "USDT" and f"{a}/USDT" in self._instruments]
        raw = await self._call(self.exchange.fetch_positions)
        return [Position(p["symbol"], _dec(p.get("contracts")) * (-1 if p.get("side") == "short" else 1),
                         _dec(p.get("entryPrice")), _dec(p.get("leverage"), Decimal(1))) for p in raw]

    async def place_order(self, order: OrderRequest) -> OrderState:
        params: dict = {"clientOrderId": order.client_order_id}
        if order.order_type == "limit":
            params["timeInForce"] = order.time_in_force
        if order.reduce_only:
            params["reduceOnly"] = True
        # Decimal strings, not floats: a float like 0.29 could truncate to the lot below.
        price = str(order.price) if order.order_type == "limit" and order.price is not None else None
        raw = await self._call(self.exchange.create_order, order.symbol, order.order_type, order.side,
                               str(order.quantity), price, params, order_sent=True)
        return self._order_state(raw, order.client_order_id)

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState:
        raw = await self._call(self.exchange.cancel_order, None, symbol, {"origClientOrderId": client_order_id})
        return self._order_state(raw, client_order_id)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        try:
            raw = await self.exchange.fetch_order(None, symbol, {"origClientOrderId": client_order_id})
        except ccxt_errors.OrderNotFound:
            return None
        except Exception as exc:  # noqa: BLE001
            raise classify(exc, order_sent=False) from exc
        return self._order_state(raw, client_order_id)

    @staticmethod
    def _order_state(raw: dict, client_order_id: str) -> OrderState:
        stamp = raw.get("timestamp")
        return OrderState(
            client_order_id=raw.get("clientOrderId") or client_order_id, venue_order_id=str(raw.get("id")),
            symbol=raw.get("symbol"), side=raw.get("side"), quantity=_dec(raw.get("amount")),
            filled_quantity=_dec(raw.get("filled")),
            average_price=_dec(raw["average"]) if raw.get("average") is not None else None,
            status=raw.get("status") or "open",
            timestamp=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None)

    async def _watch(self, watch, what: str) -> AsyncIterator[list[dict]]:
        """Batches from a ccxt.pro watch method, reconnecting with backoff until close()."""
        failures = 0
        while not self._closed.is_set():
            try:
                batch = await watch()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the stream reconnects by itself
                if self._closed.is_set():
                    return
                delay = STREAM_BACKOFF_S[min(failures, len(STREAM_BACKOFF_S) - 1)]
                failures += 1
                log.warning("%s %s stream lost (%s); reconnecting in %.1fs", self.exchange_id, what,
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            yield batch

    async def order_updates(self) -> AsyncIterator[OrderState]:
        async for orders in self._watch(self.exchange.watch_orders, "order"):
            for raw in orders:
                yield self._order_state(raw, raw.get("clientOrderId") or "")

    async def fills(self) -> AsyncIterator[Fill]:
        seen: set[str] = set()
        async for trades in self._watch(self.exchange.watch_my_trades, "fill"):
            for trade in trades:
                if trade["id"] in seen:  # ccxt may hand back a trade it already gave us
                    continue
                seen.add(trade["id"])
                fee = trade.get("fee") or {}
                info = trade.get("info") or {}
                yield Fill(
                    venue_trade_id=str(trade["id"]), venue_order_id=str(trade.get("order")),
                    client_order_id=str(info.get("c") or trade.get("clientOrderId") or ""),
                    symbol=trade["symbol"], side=trade["side"], quantity=_dec(trade["amount"]),
                    price=_dec(trade["price"]), fee=_dec(fee.get("cost")), fee_currency=fee.get("currency") or "",
                    timestamp=datetime.fromtimestamp(trade["timestamp"] / 1000, UTC))
