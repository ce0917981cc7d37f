"""NinjaTraderSim: plays NinjaTrader 8 on an ATI folder.

What NT8 does, per its help guide (Automated Trading Interface > File Interface):
- Order instruction files named oif*.txt in `incoming` are processed the moment they appear
  (and removed); each line is `COMMAND;ACCOUNT;INSTRUMENT;ACTION;QTY;ORDER TYPE;LIMIT PRICE;
  STOP PRICE;TIF;OCO ID;ORDER ID;STRATEGY;STRATEGY ID`.
- `outgoing` gets an order-state file `<ORDER ID>.txt` = `ORDER STATE;FILLED AMOUNT;AVERAGE FILL
  PRICE` at each change of an order placed with an order id, a position file `<INSTRUMENT NAME>
  <EXCHANGE>_<ACCOUNT>_Position.txt` = `MARKET POSITION;QUANTITY;AVERAGE ENTRY PRICE` (LONG,
  SHORT or FLAT) at each change of a position, and `<CONNECTION NAME>.txt` = CONNECTED or
  DISCONNECTED at each change of the connection's state.

The simulated account is the only counterparty: market orders fill whole at the current price,
limit orders rest and fill whole at their limit when the price crosses. An order whose initial
margin the account cannot cover is rejected (REJECTED;0;0), as a broker would.

Files are written whole (temporary name, then rename), so a reader never sees half a line.
Faults (inject) stand for what can go wrong between a client and NT8; see `inject`."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from venue_sim.cme import FUTURES, listed, ninjatrader_name

log = logging.getLogger("venue_sim.ninjatrader")
ORDER_TYPES = ("MARKET", "LIMIT", "STOPMARKET", "STOPLIMIT", "MIT")
TRIGGERED_TYPES = ("STOPMARKET", "STOPLIMIT", "MIT")

POLL_S = 0.002
EXCHANGE = "Globex"  # NT8's exchange name for CME futures, part of the position file's name


@dataclass
class SimOrder:
    order_id: str
    account: str
    instrument: str
    action: str  # BUY | SELL
    quantity: int
    order_type: str  # MARKET | LIMIT | STOPMARKET | STOPLIMIT | MIT
    limit: Decimal | None
    tif: str
    stop: Decimal | None = None  # the stop and MIT types' trigger price
    oco: str = ""  # orders sharing an OCO id: one filled or cancelled cancels the others
    triggered: bool = False
    state: str = "ACCEPTED"
    filled: int = 0
    average: Decimal = Decimal(0)
    at: float = field(default_factory=time.time)


@dataclass
class SimTrade:
    order_id: str
    instrument: str
    action: str
    quantity: int
    price: Decimal
    at: float


@dataclass
class Fault:
    kind: str  # busy | latency | unknown_after_accept | disconnect_after_accept | reject | query_latency
    latency_ms: int = 0
    retry_after: float = 1.0


class NinjaTraderSim:
    def __init__(self, folder: str | Path, *, account: str = "Sim101", connection: str = "Simulated Data Feed",
                 cash: str | Decimal = "100000", prices: dict[str, str | Decimal] | None = None,
                 now: datetime | None = None) -> None:
        """now: the day the simulator lives on (the real one by default); NT8 knows every quarterly
        month trading then, and which one an adapter picks is the adapter's roll."""
        self.now = now
        self.folder = Path(folder)
        self.incoming, self.outgoing = self.folder / "incoming", self.folder / "outgoing"
        self.account, self.connection = account, connection
        self.cash = Decimal(cash)
        self.instruments = {ninjatrader_name(root, month=m): root for root in FUTURES for m in listed(now)}
        self._prices = {root: Decimal(str(p)) for root, p in (prices or {}).items()}
        for root in FUTURES:
            self._prices.setdefault(root, Decimal("5000"))
        self._orders: dict[str, SimOrder] = {}
        self._positions: dict[str, tuple[int, Decimal]] = {}  # instrument -> (signed qty, average entry)
        self.trades: list[SimTrade] = []
        self.connected = False
        self._faults: list[Fault] = []
        self._busy_until = 0.0
        self._task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> NinjaTraderSim:
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.outgoing.mkdir(parents=True, exist_ok=True)
        self._set_connected(True)
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        for task in [self._task, *self._background]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self._background] if t), return_exceptions=True)
        self._task = None
        if self.outgoing.exists():
            self._set_connected(False)  # NT8 shutting down disconnects first

    async def __aenter__(self) -> NinjaTraderSim:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # --- admin hooks -----------------------------------------------------------------------
    def price(self, root: str) -> Decimal:
        return self._prices[root]

    def set_price(self, root: str, price: str | Decimal) -> None:
        """Move the last price: stop and MIT orders it reaches trigger (at market, or working at
        their limit), resting limit orders it crosses fill at their limit."""
        self._prices[root] = Decimal(str(price))
        for order in list(self._orders.values()):
            if self.instruments.get(order.instrument) != root or order.state not in ("ACCEPTED", "WORKING"):
                continue
            if order.order_type in TRIGGERED_TYPES and not order.triggered:
                if self._reached(order):
                    self._trigger(order)
            elif order.state == "WORKING" and self._crosses(order):
                self._fill(order, order.limit)

    def orders(self, order_id: str | None = None) -> list[SimOrder]:
        return [o for o in self._orders.values() if order_id is None or o.order_id == order_id]

    def position(self, root: str) -> int:
        """The position in the root's front month (CME's roll date, venue_sim.cme, on the simulator's day)."""
        return self._positions.get(ninjatrader_name(root, self.now), (0, Decimal(0)))[0]

    def inject(self, kind: str, *, latency_ms: int = 0, retry_after: float = 1.0) -> None:
        """The next instruction (or, for query_latency, right now) meets a fault:
        busy — NT8 takes no instruction files for `retry_after` seconds (ATI busy or disabled);
        latency — the next PLACE is executed but its state files come `latency_ms` late;
        unknown_after_accept — the next PLACE is executed, its state reads UNKNOWN until NT8 resyncs;
        disconnect_after_accept — the next PLACE is executed, then the connection drops before
          its state is written (written on reconnect);
        reject — the next PLACE is refused (REJECTED);
        query_latency — the connection is DISCONNECTED for `latency_ms` (files stale meanwhile)."""
        fault = Fault(kind, latency_ms, retry_after)
        if kind == "busy":
            self._busy_until = time.monotonic() + retry_after
        elif kind == "query_latency":
            self._set_connected(False)
            self._spawn(self._later(latency_ms / 1000, lambda: self._set_connected(True)))
        else:
            self._faults.append(fault)

    async def drop_streams(self, down_s: float = 0.25) -> None:
        """The connection drops and comes back (the information files stop, then resume)."""
        self._set_connected(False)
        self._spawn(self._later(down_s, lambda: self._set_connected(True)))

    # --- the folder ------------------------------------------------------------------------
    async def _run(self) -> None:
        seen_mtime = None
        while True:
            try:
                mtime = self.incoming.stat().st_mtime_ns
            except FileNotFoundError:
                return  # the folder is gone
            if mtime != seen_mtime and time.monotonic() >= self._busy_until:
                seen_mtime = mtime
                for entry in sorted(os.scandir(self.incoming), key=lambda e: e.name):
                    name = entry.name.lower()
                    if not (name.startswith("oif") and name.endswith(".txt")):
                        continue
                    try:
                        text = Path(entry.path).read_text()
                        os.remove(entry.path)
                    except FileNotFoundError:
                        continue  # taken back by its writer
                    for line in text.splitlines():
                        if line.strip():
                            self._instruction(line.strip())
                    seen_mtime = None  # look again: more may have arrived meanwhile
            elif time.monotonic() < self._busy_until:
                seen_mtime = None
            await asyncio.sleep(POLL_S)

    def _instruction(self, line: str) -> None:
        fields = (line.split(";") + [""] * 13)[:13]
        command = fields[0].upper()
        if command == "PLACE":
            self._place(fields)
        elif command == "CANCEL":
            order = self._orders.get(fields[10])
            if order is not None and order.state in ("ACCEPTED", "WORKING"):
                order.state = "CANCELLED"
                self._write_order(order)
                self._cancel_oco(order)
        elif command == "CLOSEPOSITION":
            self._close_position(fields[1], fields[2])
        else:
            log.warning("instruction not simulated: %s", line)

    def _place(self, f: list[str]) -> None:
        account, instrument, action, qty, order_type, limit, stop, tif, oco, order_id = f[1:11]
        fault = self._faults.pop(0) if self._faults else None
        if order_id and order_id in self._orders:
            log.warning("order id %s used before: ignored", order_id)  # ORDER ID must be unique
            return
        try:
            quantity = int(qty)
            limit_price = Decimal(limit) if limit else None
            stop_price = Decimal(stop) if stop else None
        except (ValueError, ArithmeticError):
            quantity, limit_price, stop_price = 0, None, None
        order = SimOrder(order_id, account, instrument, action.upper(), quantity, order_type.upper(), limit_price,
                         tif.upper(), stop_price, oco)
        if (fault and fault.kind == "reject") or not self._acceptable(order):
            order.state = "REJECTED"
            if order_id:
                self._write(f"{order_id}.txt", "REJECTED;0;0")
            return
        self._orders[order_id or f"nt-{len(self._orders) + 1}"] = order
        if fault and fault.kind == "latency":
            self._spawn(self._late(order, fault.latency_ms / 1000))
        elif fault and fault.kind == "unknown_after_accept":
            self._execute(order, write=False)
            self._write(f"{order.order_id}.txt", f"UNKNOWN;0;0")
            self._spawn(self._later(0.3, lambda: self._write_order(order)))
        elif fault and fault.kind == "disconnect_after_accept":
            self._execute(order, write=False)
            self._set_connected(False)
            self._spawn(self._later(0.1, lambda: (self._write_order(order), self._write_position(order.instrument),
                                                  self._set_connected(True))))
        else:
            self._execute(order)

    def _acceptable(self, order: SimOrder) -> bool:
        root = self.instruments.get(order.instrument)
        if order.account != self.account or root is None or order.quantity <= 0 or order.action not in (
                "BUY", "SELL") or order.order_type not in ORDER_TYPES or (
                order.order_type in ("LIMIT", "STOPLIMIT") and not order.limit) or (
                order.order_type in TRIGGERED_TYPES and not order.stop):
            return False
        # Initial margin of every open position and working order after this one, against the cash.
        exposure: dict[str, int] = {name: abs(q) for name, (q, _) in self._positions.items()}
        for o in [*self._orders.values(), order]:
            if o is order or o.state == "WORKING":
                exposure[o.instrument] = exposure.get(o.instrument, 0) + o.quantity
        margin = sum(FUTURES[self.instruments[name]].initial_margin * q for name, q in exposure.items())
        return margin <= self.cash

    def _execute(self, order: SimOrder, *, write: bool = True) -> None:
        if order.order_type in TRIGGERED_TYPES and not order.triggered:
            if self._reached(order):
                self._trigger(order, write=write)
            elif write:
                self._write_order(order)  # ACCEPTED: held until its trigger is reached
            return
        if order.order_type in ("MARKET", "STOPMARKET", "MIT") or self._crosses(order):
            self._fill(order, self._prices[self.instruments[order.instrument]], write=write)
        else:
            order.state = "WORKING"
            if write:
                self._write_order(order)

    async def _late(self, order: SimOrder, delay: float) -> None:
        self._execute(order, write=False)
        await asyncio.sleep(delay)
        self._write_order(order)
        self._write_position(order.instrument)

    async def _later(self, delay: float, action) -> None:
        await asyncio.sleep(delay)
        action()

    def _reached(self, order: SimOrder) -> bool:
        """A stop buys once the price rises to it and sells once it falls to it; an MIT the other way."""
        price = self._prices[self.instruments[order.instrument]]
        against = order.order_type.startswith("STOP")
        return price >= order.stop if (order.action == "BUY") == against else price <= order.stop

    def _trigger(self, order: SimOrder, *, write: bool = True) -> None:
        order.triggered = True
        self._execute(order, write=write)

    def _cancel_oco(self, order: SimOrder) -> None:
        """An OCO group: the others of it go as soon as one fills or is cancelled."""
        if not order.oco:
            return
        for other in self._orders.values():
            if other is not order and other.oco == order.oco and other.state in ("ACCEPTED", "WORKING"):
                other.state = "CANCELLED"
                self._write_order(other)

    def _crosses(self, order: SimOrder) -> bool:
        price = self._prices[self.instruments[order.instrument]]
        return order.limit is not None and (price <= order.limit if order.action == "BUY" else price >= order.limit)

    def _fill(self, order: SimOrder, price: Decimal, *, write: bool = True) -> None:
        order.state, order.filled, order.average = "FILLED", order.quantity, price
        self.trades.append(SimTrade(order.order_id, order.instrument, order.action, order.quantity, price, time.time()))
        qty, entry = self._positions.get(order.instrument, (0, Decimal(0)))
        delta = order.quantity if order.action == "BUY" else -order.quantity
        new = qty + delta
        if new == 0:
            entry = Decimal(0)
        elif qty == 0 or (qty > 0) != (new > 0):  # opened, or flipped: the new side's entry is this price
            entry = price
        elif (qty > 0) == (delta > 0):  # added to the position: volume-weighted entry
            entry = (entry * abs(qty) + price * abs(delta)) / abs(new)
        self._positions[order.instrument] = (new, entry)
        if write:
            self._write_order(order)
            self._write_position(order.instrument)
        self._cancel_oco(order)

    def _close_position(self, account: str, instrument: str) -> None:
        if account != self.account or instrument not in self.instruments:
            return
        for order in self._orders.values():
            if order.instrument == instrument and order.state == "WORKING":
                order.state = "CANCELLED"
                self._write_order(order)
        qty, _ = self._positions.get(instrument, (0, Decimal(0)))
        if qty:
            flatten = SimOrder("", account, instrument, "SELL" if qty > 0 else "BUY", abs(qty), "MARKET", None, "DAY")
            self._orders[f"nt-{len(self._orders) + 1}"] = flatten
            self._execute(flatten)

    # --- outgoing files --------------------------------------------------------------------
    def _write(self, name: str, text: str) -> None:
        if not self.outgoing.exists():
            return
        temp = self.outgoing / f".{name}.tmp"
        temp.write_text(text)
        os.replace(temp, self.outgoing / name)

    def _write_order(self, order: SimOrder) -> None:
        if order.order_id:
            self._write(f"{order.order_id}.txt", f"{order.state};{order.filled};{order.average}")

    def _write_position(self, instrument: str) -> None:
        qty, entry = self._positions.get(instrument, (0, Decimal(0)))
        side = "FLAT" if qty == 0 else "LONG" if qty > 0 else "SHORT"
        self._write(f"{instrument} {EXCHANGE}_{self.account}_Position.txt", f"{side};{abs(qty)};{entry}")

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        self._write(f"{self.connection}.txt", "CONNECTED" if up else "DISCONNECTED")

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
