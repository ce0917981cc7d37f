"""NinjaTraderVenue: one NinjaTrader 8 account through NT8's Automated Trading Interface (ATI)
file interface — the folder NT8 watches (`incoming`) and the folder it reports into (`outgoing`).

- Orders go out as order instruction files (oif*.txt) holding one line
  `PLACE;<ACCOUNT>;<INSTRUMENT>;<ACTION>;<QTY>;<ORDER TYPE>;[LIMIT];[STOP];<TIF>;[OCO];[ORDER ID];;`
  with our client order id as NT8's ORDER ID, and `CANCEL;;;;;;;;;;<ORDER ID>;;`.
- NT8 answers in files: `<ORDER ID>.txt` = `STATE;FILLED;AVERAGE FILL PRICE` at each change of
  that order, `<INSTRUMENT> <EXCHANGE>_<ACCOUNT>_Position.txt` = `LONG|SHORT|FLAT;QTY;AVG PRICE`,
  and `<CONNECTION>.txt` = CONNECTED | DISCONNECTED. A watcher polls `outgoing` (a directory's
  mtime is cheap to check) and turns changes into order updates and fills: a fill is the growth
  of an order's filled amount, priced from the change of its average fill price.

What the file interface does not carry, and what stands in for it:
- no balances: the account's cash is configuration (`cash`), reported as its equity;
- no market data: price() asks `price_source` (a data feed for the same contracts), and
  recent_returns() is empty without one;
- no order or execution history: trades() and fills() cover the orders this adapter placed
  (it knows their instrument and side; NT8's state files do not say);
- no reduce-only: the adapter checks the position file and refuses an order that would not
  reduce (it never sends it), and trims one that would overshoot to the position's size;
- no rate limit: when NT8 does not take an instruction file within `consume_timeout_s` (ATI
  busy or switched off) the adapter takes the file back — NT8 never saw it — and reports
  RATE_LIMIT with `busy_retry_after_s`;
- no error codes: REJECTED is a refusal, UNKNOWN or no state in time an unknown outcome.

The connection file tells whether NT8 is connected to its broker: while DISCONNECTED its files
are stale, so calls wait up to `timeout_s` for CONNECTED (an order is then not sent: NETWORK; a
read is a TIMEOUT), and streams report themselves down, re-reading everything on reconnect. A
connection name NT8 has never reported is a configuration error a person must fix (AUTH); a
folder that cannot be reached (share unmounted, machine gone) is NETWORK."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from services.replication.venues import cme, roll
from services.replication.venues.base import (
    LIMIT_TYPES, ZERO, AccountSnapshot, Balance, ErrorKind, Fill, FillCursor, Instrument, OrderRequest, OrderState,
    Position, VenueError, check_request, place_in_turn, tell_stream_listeners,
)

log = logging.getLogger("copytrade.venue.ninjatrader")

# NT8 order states (OrderState, upper-cased as the ATI writes them) -> ours.
STATUS = {"INITIALIZED": "open", "SUBMITTED": "open", "ACCEPTED": "open", "WORKING": "open",
          "TRIGGERPENDING": "open", "CHANGEPENDING": "open", "CHANGESUBMITTED": "open", "CANCELPENDING": "open",
          "CANCELSUBMITTED": "open", "PARTFILLED": "open", "FILLED": "closed", "CANCELLED": "canceled",
          "REJECTED": "rejected", "UNKNOWN": "open"}
TRANSIENT = {"INITIALIZED", "SUBMITTED", "ACCEPTED", "TRIGGERPENDING"}  # NT8 has not heard back yet
TERMINAL = {"FILLED", "CANCELLED", "REJECTED"}
SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # the ORDER ID names a file (and so does an OCO ID)
# Our order types → the ATI's (a take-profit at market is NT8's MIT; it has no limit-if-touched).
ATI_TYPES = {"market": "MARKET", "limit": "LIMIT", "stop_market": "STOPMARKET", "stop_limit": "STOPLIMIT",
             "take_profit_market": "MIT"}
RESCAN_S = 0.25  # a full re-read even when the folder's mtime says nothing changed


@dataclass
class _Order:
    request: OrderRequest
    instrument: str  # NT8's instrument name
    quantity: Decimal
    state: str = ""
    filled: Decimal = ZERO
    average: Decimal = ZERO
    at: float = 0.0


def _dec(text: str) -> Decimal:
    try:
        return Decimal(text.strip() or "0")
    except InvalidOperation:
        return ZERO


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


class NinjaTraderVenue:
    """See the module docstring. folder: NT8's user folder holding `incoming` and `outgoing`
    ("Documents/NinjaTrader 8", or a share of it); account: the NT8 account name ("Sim101");
    connection: the Connection Manager name whose state file tells whether NT8 is connected."""

    def __init__(self, folder: str | Path, *, account: str, connection: str, cash: Decimal | str = ZERO,
                 currency: str = "USD", symbols: tuple[str, ...] = tuple(cme.FUTURES),
                 price_source: Callable[[str], Awaitable[Decimal]] | None = None, timeout_s: float = 5.0,
                 consume_timeout_s: float = 0.5, busy_retry_after_s: float = 1.0, poll_s: float = 0.003,
                 now: roll.When = None) -> None:
        self.folder = Path(folder)
        self.incoming, self.outgoing = self.folder / "incoming", self.folder / "outgoing"
        self.account_name, self.connection = account, connection
        self.cash, self.currency = Decimal(str(cash)), currency
        self.price_source = price_source
        self.timeout_s, self.consume_timeout_s, self.busy_retry_after_s = timeout_s, consume_timeout_s, busy_retry_after_s
        self.poll_s = poll_s
        # The front month of the day (the shared roll rule), chosen again when the day changes.
        self._fronts = roll.FrontMonths(symbols, cme.instrument,
                                        lambda root, month: cme.ninjatrader_name(root, month=month), now)
        self._orders: dict[str, _Order] = {}
        self._ledger: list[Fill] = []
        self._fill_queues: set[asyncio.Queue] = set()
        self._order_queues: set[asyncio.Queue] = set()
        self._listeners: dict[str, Callable[[str, bool], None]] = {}
        self._connected: bool | None = None
        self._watcher: asyncio.Task | None = None
        self._serial = 0
        self._started = datetime.now(UTC)

    # --- failures --------------------------------------------------------------------------
    def classify(self, exc: BaseException, *, order_sent: bool = False) -> VenueError:
        if isinstance(exc, VenueError):
            return exc
        message = f"{type(exc).__name__}: {exc}"[:500]
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.TIMEOUT, message)
        if isinstance(exc, OSError):  # the folder is unreachable
            return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.NETWORK, message)
        return VenueError(ErrorKind.UNKNOWN_OUTCOME if order_sent else ErrorKind.PLATFORM, message)

    # --- lifecycle and reference data ------------------------------------------------------
    async def connect(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None

    @property
    def _instruments(self) -> dict[str, Instrument]:
        return self._fronts.current()

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def instrument(self, symbol: str) -> Instrument:
        if symbol not in self._instruments:
            raise VenueError(ErrorKind.REJECTED, f"NinjaTrader adapter has no instrument {symbol}")
        return self._instruments[symbol]

    # --- the connection --------------------------------------------------------------------
    def _connection_state(self) -> bool | None:
        """True/False from NT8's connection file; None when NT8 never reported that connection.
        OSError when the folder cannot be reached."""
        if not self.outgoing.is_dir():
            raise FileNotFoundError(f"NinjaTrader's outgoing folder {self.outgoing} is not reachable")
        state = _read(self.outgoing / f"{self.connection}.txt")
        return None if state is None else state.upper() == "CONNECTED"

    async def _ready(self, *, sending: bool) -> None:
        """Return when NT8 is connected; otherwise raise what the caller's failure means."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                state = self._connection_state()
            except OSError as exc:
                raise self.classify(exc) from exc
            if state is None:
                raise VenueError(ErrorKind.AUTH, f"NinjaTrader reports no connection named {self.connection!r}: "
                                                 "check the account's connection setting")
            if state:
                return
            if time.monotonic() >= deadline:
                raise VenueError(ErrorKind.NETWORK if sending else ErrorKind.TIMEOUT,
                                 f"NinjaTrader's connection {self.connection!r} is DISCONNECTED")
            await asyncio.sleep(self.poll_s)

    # --- account ---------------------------------------------------------------------------
    async def free_balance(self, asset: str) -> Decimal:
        return (await self.account()).free(asset)  # one account read: balances come with equity here

    async def account(self) -> AccountSnapshot:
        await self._ready(sending=False)
        return AccountSnapshot(balances={self.currency: Balance(self.currency, self.cash, ZERO)}, equity=self.cash,
                               currency=self.currency)

    def _position_file(self, instrument: Instrument) -> str | None:
        """`<INSTRUMENT> <EXCHANGE>_<ACCOUNT>_Position.txt` as NT8's guide names it ("ES 12-26
        Globex_Sim101_Position.txt"); also without the exchange, any case."""
        prefix, tail = f"{instrument.venue_symbol} ".lower(), f"{self.account_name}_position.txt".lower()
        for entry in os.scandir(self.outgoing):
            name = entry.name.lower()
            rest = name[len(prefix):]
            if name.startswith(prefix) and (rest == tail or (rest.endswith(f"_{tail}") and " " not in rest)):
                return _read(Path(entry.path))
        return None

    def _position(self, instrument: Instrument) -> Position | None:
        text = self._position_file(instrument)
        if not text:
            return None
        side, qty, price = (text.split(";") + ["", "", ""])[:3]
        quantity = _dec(qty) * (-1 if side.strip().upper() == "SHORT" else 1)
        if side.strip().upper() == "FLAT" or not quantity:
            return None
        return Position(instrument.symbol, quantity, _dec(price))

    async def positions(self) -> list[Position]:
        await self._ready(sending=False)
        try:
            found = [self._position(i) for i in self._instruments.values()]
        except OSError as exc:
            raise self.classify(exc) from exc
        return [p for p in found if p is not None]

    async def price(self, symbol: str) -> Decimal:
        await self.instrument(symbol)
        if self.price_source is None:
            raise VenueError(ErrorKind.PLATFORM, "NinjaTrader's file interface carries no market data; "
                                                 "configure a price source")
        return Decimal(await self.price_source(symbol))

    async def recent_returns(self, symbol: str, periods: int = 48) -> list[float]:
        await self.instrument(symbol)
        return []  # no price history through the file interface

    def history_start(self) -> datetime | None:
        return self._started  # trades() knows only the orders this adapter placed since it started

    async def trades(self, symbol: str, since: datetime) -> list[Fill]:
        self._scan()
        return [f for f in self._ledger if f.symbol == symbol and f.timestamp >= since]

    # --- orders ----------------------------------------------------------------------------
    def supports(self, order: OrderRequest) -> bool:
        """Market, limit, STOPMARKET, STOPLIMIT and MIT (a take-profit at market) orders and OCO
        ids; no limit-if-touched, bracket parent or close-position order."""
        return order.order_type in ATI_TYPES and not (order.parent_client_order_id or order.close_position) and (
            not order.oco_group or bool(SAFE_ID.match(order.oco_group)))

    def supports_group(self, orders: list[OrderRequest]) -> bool:
        return all(map(self.supports, orders))

    async def place_orders(self, orders: list[OrderRequest]) -> list[OrderState]:
        return await place_in_turn(self, orders)  # NT8 links an OCO group by its id, order by order

    async def place_order(self, order: OrderRequest) -> OrderState:
        check_request(order)
        instrument = await self.instrument(order.symbol)
        if not self.supports(order):
            raise VenueError(ErrorKind.REJECTED, f"NinjaTrader's ATI takes no {order.order_type} order like this")
        if not SAFE_ID.match(order.client_order_id):
            raise VenueError(ErrorKind.REJECTED, "a NinjaTrader order id is 1-64 letters, digits, '_', '-' or '.'")
        fitted = instrument.fit_quantity(order.quantity)
        if not fitted.ok:
            raise VenueError(ErrorKind.REJECTED, f"{order.quantity} contracts round to {fitted.quantity}: "
                                                 f"below the minimum of {instrument.min_quantity}")
        quantity = fitted.quantity
        if order.client_order_id in self._orders or (self.outgoing / f"{order.client_order_id}.txt").exists():
            raise VenueError(ErrorKind.REJECTED, f"order id {order.client_order_id} was used before")
        await self._ready(sending=True)
        if order.reduce_only:
            position = self._position(instrument)
            held = position.quantity if position else ZERO
            if held == 0 or (held > 0) == (order.side == "buy"):
                raise VenueError(ErrorKind.REJECTED, f"reduce-only {order.side}: no {order.symbol} position to reduce")
            quantity = min(quantity, abs(held))
        price = stop = ""
        if order.order_type in LIMIT_TYPES:
            steps = (order.price / instrument.tick_size).to_integral_value(
                rounding=ROUND_FLOOR if order.side == "buy" else ROUND_CEILING)
            price = format(steps * instrument.tick_size, "f")
        if order.triggered:
            stop = format((order.trigger_price / instrument.tick_size).to_integral_value(ROUND_HALF_UP)
                          * instrument.tick_size, "f")
        tif = "GTC" if order.time_in_force == "GTC" else "DAY"
        line = (f"PLACE;{self.account_name};{instrument.venue_symbol};{order.side.upper()};{quantity};"
                f"{ATI_TYPES[order.order_type]};{price};{stop};{tif};{order.oco_group};{order.client_order_id};;")
        record = _Order(order, instrument.venue_symbol, quantity)
        self._orders[order.client_order_id] = record
        try:
            await self._send(line)
        except VenueError:
            del self._orders[order.client_order_id]  # NT8 never saw it
            raise
        # A stop NT8 holds until its trigger is reached stays ACCEPTED: that is its answer.
        settled = (lambda s: s not in ("INITIALIZED", "SUBMITTED")) if order.triggered else \
            (lambda s: s not in TRANSIENT)
        state = await self._await_state(order.client_order_id, settled)
        if state.status == "rejected":
            raise VenueError(ErrorKind.REJECTED, f"NinjaTrader rejected order {order.client_order_id}")
        if record.state == "UNKNOWN":
            raise VenueError(ErrorKind.UNKNOWN_OUTCOME, f"NinjaTrader reports order {order.client_order_id} UNKNOWN")
        return state

    async def _send(self, line: str) -> None:
        """Write one instruction file and wait until NT8 has taken it. Not taken in time: take
        it back (NT8 never saw it) and report RATE_LIMIT."""
        self._serial += 1
        name = f"oif{os.getpid()}_{time.time_ns()}_{self._serial}.txt"
        temp, path = self.incoming / f".{name}.part", self.incoming / name
        try:
            temp.write_text(line + "\n")
            os.replace(temp, path)  # NT8 picks up oif*.txt: it sees the whole file or none
        except OSError as exc:
            raise self.classify(exc) from exc
        deadline = time.monotonic() + self.consume_timeout_s
        while path.exists():
            if time.monotonic() >= deadline:
                try:
                    os.remove(path)
                except FileNotFoundError:
                    break  # taken just now
                raise VenueError(ErrorKind.RATE_LIMIT, "NinjaTrader did not take the instruction file "
                                                       f"within {self.consume_timeout_s}s", self.busy_retry_after_s)
            await asyncio.sleep(self.poll_s)

    async def _await_state(self, cid: str, done: Callable[[str], bool]) -> OrderState:
        """Poll the order's state file until `done(state)`; UNKNOWN_OUTCOME when the connection
        drops or nothing conclusive arrives within the timeout."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                connected = self._connection_state()
            except OSError as exc:
                raise self.classify(exc, order_sent=True) from exc
            if connected is False:
                raise VenueError(ErrorKind.UNKNOWN_OUTCOME, f"NinjaTrader disconnected before answering for {cid}")
            state = self._observe(cid)
            if state is not None and (done(self._orders[cid].state) or self._orders[cid].state == "UNKNOWN"):
                return state
            if time.monotonic() >= deadline:
                raise VenueError(ErrorKind.UNKNOWN_OUTCOME, f"no answer from NinjaTrader for {cid} "
                                                            f"within {self.timeout_s}s")
            await asyncio.sleep(self.poll_s)

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderState:
        current = await self.fetch_order(client_order_id, symbol)
        if current is None or not current.is_open:
            raise VenueError(ErrorKind.REJECTED, f"order {client_order_id} is not open "
                                                 f"({current.status if current else 'unknown'})")
        await self._send(f"CANCEL;;;;;;;;;;{client_order_id};;")
        try:
            return await self._await_state(client_order_id, lambda s: s in TERMINAL)
        except VenueError as err:
            raise VenueError(ErrorKind.TIMEOUT, err.message) from err

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderState | None:
        """None also for an order NT8 rejected: it never existed at the venue."""
        await self._ready(sending=False)
        if not SAFE_ID.match(client_order_id):
            return None
        if client_order_id not in self._orders:
            text = _read(self.outgoing / f"{client_order_id}.txt")
            if text is None:
                return None
            state = self._state_from(client_order_id, symbol, *self._parse(text))
        else:
            state = self._observe(client_order_id)
        # NT8 refused it: nothing of it exists at the venue (its id stays used).
        return None if state is None or state.status == "rejected" else state

    @staticmethod
    def _parse(text: str) -> tuple[str, Decimal, Decimal]:
        state, filled, average = (text.split(";") + ["", "", ""])[:3]
        return state.strip().upper(), _dec(filled), _dec(average)

    def _state_from(self, cid: str, symbol: str, state: str, filled: Decimal, average: Decimal,
                    record: _Order | None = None, at: float | None = None) -> OrderState:
        request = record.request if record else None
        return OrderState(
            client_order_id=cid, venue_order_id=cid, symbol=request.symbol if request else symbol,
            side=request.side if request else "", quantity=record.quantity if record else filled,
            filled_quantity=filled, average_price=average if filled else None, status=STATUS.get(state, "open"),
            timestamp=datetime.fromtimestamp(at, UTC) if at else None,
            order_type=request.order_type if request else None, price=request.price if request else None,
            trigger_price=request.trigger_price if request else None, oco_group=request.oco_group if request else "",
            triggered=bool(request and request.triggered and (state == "WORKING" or filled > 0)))

    def _observe(self, cid: str) -> OrderState | None:
        """Read one of our orders' state file; publish what changed (order update, fills)."""
        record = self._orders[cid]
        path = self.outgoing / f"{cid}.txt"
        try:
            text, at = _read(path), path.stat().st_mtime
        except FileNotFoundError:
            return None
        if not text:
            return None
        state, filled, average = self._parse(text)
        if state not in STATUS:
            return None  # a torn or unknown line: read it again next time
        changed = (state, filled, average) != (record.state, record.filled, record.average)
        previous_filled, previous_average = record.filled, record.average
        record.state, record.filled, record.average, record.at = state, filled, average, at
        current = self._state_from(cid, record.request.symbol, state, filled, average, record, at)
        if changed:
            if filled > previous_filled:
                quantity = filled - previous_filled
                price = (average * filled - previous_average * previous_filled) / quantity
                fill = Fill(f"{cid}-{filled.normalize()}", cid, cid, record.request.symbol, record.request.side,
                            quantity, price, ZERO, self.currency, datetime.fromtimestamp(at, UTC))
                self._ledger.append(fill)
                for queue in list(self._fill_queues):
                    queue.put_nowait(fill)
            for queue in list(self._order_queues):
                queue.put_nowait(current)
        return current

    def _scan(self) -> None:
        for cid in list(self._orders):
            self._observe(cid)

    # --- streams ---------------------------------------------------------------------------
    async def _watch(self) -> None:
        """Follow `outgoing`: connection changes and our orders' state files."""
        seen, last_full = None, 0.0
        while True:
            try:
                mtime = self.outgoing.stat().st_mtime_ns
                if mtime != seen or time.monotonic() - last_full > RESCAN_S:
                    seen, last_full = mtime, time.monotonic()
                    connected = bool(self._connection_state())
                    if connected != self._connected:
                        was = self._connected
                        self._connected = connected
                        if connected:
                            self._scan()  # what changed while the connection was down
                        if was is not None or not connected:
                            self._stream_state(connected)
                    if connected:
                        self._scan()
            except OSError as exc:
                if self._connected:
                    self._connected = False
                    self._stream_state(False)
                log.debug("ninjatrader outgoing folder unreadable: %s", exc)
            await asyncio.sleep(self.poll_s)

    def _stream_state(self, up: bool) -> None:
        streams = (["fill"] if self._fill_queues else []) + (["order"] if self._order_queues else [])
        tell_stream_listeners(self._listeners, streams, up)

    def add_stream_listener(self, name: str, listener: Callable[[str, bool], None]) -> None:
        self._listeners[name] = listener

    @property
    def stream_up(self) -> bool:
        return bool(self._connected) and self._watcher is not None

    async def _stream(self, queues: set[asyncio.Queue]) -> AsyncIterator:
        await self.connect()
        queue: asyncio.Queue = asyncio.Queue()
        queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            queues.discard(queue)

    def fills(self, since: FillCursor | None = None) -> AsyncIterator[Fill]:
        """NT8's file interface keeps no history a cursor could resume from (it reports only the
        orders this adapter placed, while it runs): `since` changes nothing."""
        return self._stream(self._fill_queues)

    def order_updates(self) -> AsyncIterator[OrderState]:
        return self._stream(self._order_queues)


def from_credential(*, api_key: str, api_secret: str, passphrase: str, venue_url: str = "",
                    price_source: Callable[[str], Awaitable[Decimal]] | None = None) -> NinjaTraderVenue:
    """A NinjaTrader account from the vault's credential fields. The ATI has no authentication
    (whoever can write the folder can trade), so the fields carry settings:
    api_key = the NT8 account name ("Sim101"); passphrase = the Connection Manager connection
    whose state file says whether NT8 is connected ("Simulated Data Feed" when empty);
    api_secret = the account's cash in USD (NT8's files report no balance; empty: 0).
    The folder — NT8's user folder holding incoming/ and outgoing/, or a share of it — is the
    venue's configured URL (`file:///path` or a path), by default ~/Documents/NinjaTrader 8."""
    folder = venue_url.removeprefix("file://") if venue_url else str(Path.home() / "Documents" / "NinjaTrader 8")
    try:
        cash = Decimal(api_secret.strip() or "0")
    except InvalidOperation:
        raise VenueError(ErrorKind.AUTH, "the NinjaTrader credential's secret is the account cash, a decimal") from None
    return NinjaTraderVenue(folder, account=api_key, connection=passphrase or "Simulated Data Feed", cash=cash,
                            price_source=price_source)
