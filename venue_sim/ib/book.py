"""The simulated IB account side: CME futures contracts, accounts (cash, positions, margin),
orders and executions, matching against the simulator's last price. Pure state: no I/O.

Prices are per underlying: ES and MES share one price, NQ and MNQ another, as on CME."""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from venue_sim.cme import listed, third_friday

ZERO = Decimal(0)


@dataclass(frozen=True)
class FutureContract:
    symbol: str  # "ES"
    con_id: int
    multiplier: int  # USD per index point
    tick: Decimal
    underlying: str  # the price it shares: "ES" for ES and MES
    initial_margin: Decimal  # USD per contract
    commission: Decimal  # USD per contract, IBKR fixed + exchange fees, as IB reports it
    long_name: str
    expiry: str = ""  # yyyymmdd, the front quarterly month's last trading day
    exchange: str = "CME"
    currency: str = "USD"
    under_con_id: int = 0
    trading_hours: str = ""

    @property
    def local_symbol(self) -> str:
        month = "HMUZ"[(int(self.expiry[4:6]) - 3) // 3]
        return f"{self.symbol}{month}{self.expiry[3]}"


def listed_contracts(today: date | None = None) -> list[FutureContract]:
    """Every quarterly month IB lists on `today`, nearest expiry first, as reqContractDetails
    answers for a bare root (CME's calendar, venue_sim.cme). Which one to trade is the
    client's roll; the simulator only lists them."""
    hours = "CME Globex: Sun-Fri 17:00-16:00 CT"
    table = [  # symbol, conId, multiplier, tick, underlying, initial margin, commission, name
        ("ES", 637533641, 50, "0.25", "ES", "22000", "2.25", "E-mini S&P 500"),
        ("MES", 637533450, 5, "0.25", "ES", "2200", "0.62", "Micro E-Mini S&P 500 Stock Price Index"),
        ("NQ", 637533398, 20, "0.25", "NQ", "32000", "2.25", "E-mini NASDAQ 100 Index"),
        ("MNQ", 637533593, 2, "0.25", "NQ", "3200", "0.62", "Micro E-Mini Nasdaq-100 Index"),
    ]
    months = listed(today or datetime.now(UTC).date())
    return [FutureContract(s, con_id + 1000 * i, mult, Decimal(tick), under, Decimal(margin), Decimal(fee), name,
                           expiry=third_friday(year, month).strftime("%Y%m%d"),
                           under_con_id=11004968 if under == "ES" else 11004958, trading_hours=hours)
            for i, (year, month) in enumerate(months)
            for s, con_id, mult, tick, under, margin, fee, name in table]


def default_contracts(today: date | None = None) -> dict[str, FutureContract]:
    """The nearest expiry of each root: the contract the book prices and margins by (every
    month of a root shares them here)."""
    nearest: dict[str, FutureContract] = {}
    for c in listed_contracts(today):
        nearest.setdefault(c.symbol, c)
    return nearest


DEFAULT_PRICES = {"ES": Decimal("5000.00"), "NQ": Decimal("17500.00")}


@dataclass
class SimOrder:
    order_id: int
    client_id: int
    perm_id: int
    account: str
    contract: FutureContract
    action: str  # "BUY" | "SELL"
    quantity: Decimal
    order_type: str  # "MKT" | "LMT" | "STP" | "STP LMT" | "MIT" | "LIT"
    limit: Decimal | None
    tif: str
    order_ref: str
    at: float
    # Submitted (working) | PreSubmitted (a bracket child waiting for its parent to fill) |
    # Filled | Cancelled; "held" while transmit=False holds it in TWS (it reached no one yet)
    status: str = "Submitted"
    filled: Decimal = ZERO
    avg_price: Decimal = ZERO
    done_at: float | None = None
    aux: Decimal | None = None  # the stop types' and if-touched types' trigger price
    oca_group: str = ""  # orders of one group cancel each other when one fills
    oca_type: int = 0
    parent_id: int = 0  # a bracket child: the parent's order id (same API client)
    triggered: bool = False  # a stop or if-touched order whose trigger was reached

    @property
    def is_open(self) -> bool:
        return self.status in ("Submitted", "PreSubmitted", "held")

    @property
    def working(self) -> bool:
        return self.status == "Submitted"

    @property
    def signed(self) -> int:
        return 1 if self.action == "BUY" else -1


@dataclass
class Execution:
    exec_id: str
    order: SimOrder
    at: float
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    commission: Decimal
    realized_pnl: Decimal | None


@dataclass
class PositionRow:
    quantity: Decimal = ZERO  # signed contracts
    avg_price: Decimal = ZERO  # per index point (IB reports avgCost = avg_price * multiplier)


@dataclass
class Account:
    code: str  # "DU1234567"
    cash: Decimal
    positions: dict[str, PositionRow] = field(default_factory=dict)  # by symbol
    realized: Decimal = ZERO


class Rejected(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message = code, message


ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT", "MIT", "LIT")
TRIGGERED_TYPES = ("STP", "STP LMT", "MIT", "LIT")


def reached(order: SimOrder, price: Decimal) -> bool:
    """IB's triggers: a stop buys once the price rises to its aux price and sells once it falls
    to it; an if-touched order the other way."""
    against = order.order_type.startswith("STP")
    return price >= order.aux if (order.action == "BUY") == against else price <= order.aux


class IbBook:
    def __init__(self, seed: int = 0, contracts: dict[str, FutureContract] | None = None,
                 today: date | None = None) -> None:
        self.listed = list(contracts.values()) if contracts else listed_contracts(today)
        self.contracts = contracts or default_contracts(today)
        self.prices: dict[str, Decimal] = dict(DEFAULT_PRICES)
        self.accounts: dict[str, Account] = {}
        self.orders: list[SimOrder] = []
        self.executions: list[Execution] = []
        self.next_ids: dict[int, int] = {}  # per API client id: the next valid order id
        self._perm_ids = itertools.count(1_100_000_001)
        self._exec_seq = itertools.count(1)
        self._random = random.Random(seed)
        # What happened, in order, for the server to tell: ("fill", Execution, "Filled") or
        # ("status", SimOrder, its status then) for a status reached without a fill (an order
        # placed or transmitted, a child started working, an OCA sibling canceled).
        self.events: list[tuple[str, object, str]] = []

    # --- reference data and prices ------------------------------------------------------
    def contract(self, symbol: str = "", con_id: int = 0, local_symbol: str = "") -> FutureContract | None:
        for c in self.listed:
            if (con_id and c.con_id == con_id) or (not con_id and symbol and c.symbol == symbol.upper()) \
                    or (not con_id and not symbol and local_symbol and c.local_symbol == local_symbol):
                return c
        return None

    def price(self, symbol: str) -> Decimal:
        return self.prices[self.contracts[symbol].underlying]

    def set_price(self, symbol: str, price: Decimal) -> list[Execution]:
        """Move the underlying's price (ES moves MES too); resting limits it crosses fill."""
        underlying = self.contracts[symbol].underlying if symbol in self.contracts else symbol
        if underlying not in self.prices:
            raise KeyError(f"no contract {symbol!r}")
        self.prices[underlying] = price
        fills: list[Execution] = []
        for order in [o for o in self.orders if o.working and o.contract.underlying == underlying]:
            if not order.working:  # canceled meanwhile (an OCA sibling filled)
                continue
            if order.order_type in TRIGGERED_TYPES and not order.triggered:
                if not reached(order, price):
                    continue
                order.triggered = True  # a stop fires at market; a stop-limit becomes its limit order
                if order.order_type in ("STP", "MIT"):
                    fills += self._execute(order, price)
                    continue
            if (order.action == "BUY" and price <= order.limit) or (order.action == "SELL" and price >= order.limit):
                fills += self._execute(order, order.limit)
        return fills

    def tick(self) -> list[Execution]:
        fills = []
        for underlying in list(self.prices):
            steps = self._random.choice((-2, -1, 0, 1, 2))
            fills += self.set_price(underlying, self.prices[underlying] + Decimal("0.25") * steps)
        return fills

    # --- accounts ---------------------------------------------------------------------------
    def create_account(self, code: str, cash: Decimal = Decimal("1000000")) -> Account:
        self.accounts[code] = account = Account(code, cash)
        return account

    def unrealized(self, account: Account) -> Decimal:
        return sum(((self.price(s) - p.avg_price) * p.quantity * self.contracts[s].multiplier
                    for s, p in account.positions.items() if p.quantity), ZERO)

    def initial_margin(self, account: Account, extra: dict[str, Decimal] | None = None) -> Decimal:
        extra = extra or {}
        symbols = set(account.positions) | set(extra)
        return sum((abs((account.positions.get(s) or PositionRow()).quantity + extra.get(s, ZERO))
                    * self.contracts[s].initial_margin for s in symbols), ZERO)

    def summary(self, account: Account) -> dict[str, Decimal]:
        net = account.cash + self.unrealized(account)
        init = self.initial_margin(account)
        return {"NetLiquidation": net, "TotalCashValue": account.cash, "SettledCash": account.cash,
                "EquityWithLoanValue": net, "InitMarginReq": init, "MaintMarginReq": init * Decimal("0.8"),
                "FullInitMarginReq": init, "FullMaintMarginReq": init * Decimal("0.8"),
                "AvailableFunds": net - init, "FullAvailableFunds": net - init,
                "ExcessLiquidity": net - init * Decimal("0.8"), "BuyingPower": (net - init) * 4,
                "GrossPositionValue": ZERO, "RealizedPnL": account.realized, "UnrealizedPnL": self.unrealized(account)}

    # --- orders -----------------------------------------------------------------------------
    def next_valid_id(self, client_id: int) -> int:
        return self.next_ids.setdefault(client_id, 1)

    def check_order_id(self, client_id: int, order_id: int) -> None:
        """IB's rule: an API client's order ids only increase; one used before is a duplicate."""
        if order_id < self.next_valid_id(client_id) or any(
                o.order_id == order_id and o.client_id == client_id for o in self.orders):
            raise Rejected(103, "Duplicate order id")

    def open_order(self, client_id: int, order_id: int) -> SimOrder | None:
        return next((o for o in self.orders if o.order_id == order_id and o.client_id == client_id and o.is_open), None)

    def modify(self, order: SimOrder, *, quantity: Decimal, order_type: str, limit: Decimal | None,
               aux: Decimal | None) -> list[Execution]:
        """placeOrder with the id of an open order changes it in place (price, trigger, size)."""
        if order_type != order.order_type:
            raise Rejected(10147, "The order type cannot be changed.")  # IB's text differs; the refusal holds
        if quantity <= 0 or quantity != quantity.to_integral_value() or quantity < order.filled:
            raise Rejected(434, "The order size cannot be zero.")
        self._check_prices(order.contract, order_type, limit, aux)
        order.quantity, order.limit, order.aux = quantity, limit, aux
        self._status(order)
        return self._work(order)

    @staticmethod
    def _check_prices(contract: FutureContract, order_type: str, limit: Decimal | None, aux: Decimal | None) -> None:
        if order_type in ("LMT", "STP LMT", "LIT"):
            if limit is None or limit <= 0:
                raise Rejected(321, "Error validating request.-'bO' : cause - A limit order needs a limit price")
            if limit % contract.tick:
                raise Rejected(110, "The price does not conform to the minimum price variation for this contract.")
        if order_type in TRIGGERED_TYPES:
            if aux is None or aux <= 0:
                raise Rejected(321, "Error validating request.-'bP' : cause - A stop order needs an aux price")
            if aux % contract.tick:
                raise Rejected(110, "The price does not conform to the minimum price variation for this contract.")

    def place(self, *, client_id: int, order_id: int, account: str, contract: FutureContract, action: str,
              quantity: Decimal, order_type: str, limit: Decimal | None, tif: str, order_ref: str,
              now: float | None = None, aux: Decimal | None = None, oca_group: str = "", oca_type: int = 0,
              parent_id: int = 0, transmit: bool = True) -> tuple[SimOrder, list[Execution]]:
        self.check_order_id(client_id, order_id)
        acct = self.accounts.get(account)
        if acct is None:
            raise Rejected(321, f"Error validating request.-'bN' : cause - The account code {account!r} is not "
                                "managed by this login")
        if action not in ("BUY", "SELL"):
            raise Rejected(321, f"Error validating request.-'bO' : cause - Invalid side {action!r}")
        if quantity <= 0 or quantity != quantity.to_integral_value():
            raise Rejected(434, "The order size cannot be zero." if quantity <= 0 else
                           "Order quantity for futures must be a whole number of contracts.")
        if order_type not in ORDER_TYPES:
            raise Rejected(387, f"Unsupported order type {order_type!r}")
        self._check_prices(contract, order_type, limit, aux)
        parent = None
        if parent_id:
            parent = self.open_order(client_id, parent_id)
            if parent is None or parent.account != account or parent.contract.symbol != contract.symbol:
                raise Rejected(135, f"Can't find order with id ={parent_id}")
        if tif not in ("DAY", "GTC", "IOC", "FOK", ""):
            raise Rejected(321, f"Error validating request.-'bO' : cause - Invalid time in force {tif!r}")
        signed = quantity if action == "BUY" else -quantity
        held = (acct.positions.get(contract.symbol) or PositionRow()).quantity
        pending = sum((o.quantity - o.filled) * o.signed for o in self.orders
                      if o.is_open and o.account == account and o.contract.symbol == contract.symbol)
        if abs(held + pending + signed) > abs(held):  # the order adds exposure: it needs margin
            required = self.initial_margin(acct, {contract.symbol: pending + signed})
            equity = acct.cash + self.unrealized(acct)
            if required > equity:
                raise Rejected(201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE "
                                    f"DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [{equity:.2f} USD] MUST EXCEED "
                                    f"THE INITIAL MARGIN [{required:.2f} USD]")
        self.next_ids[client_id] = order_id + 1
        order = SimOrder(order_id, client_id, next(self._perm_ids), account, contract, action, quantity,
                         order_type, limit, tif or "DAY", order_ref, now or time.time(), aux=aux,
                         oca_group=oca_group, oca_type=oca_type, parent_id=parent_id)
        self.orders.append(order)
        if not transmit:  # TWS holds it until an order that transmits (its last child) sends them all
            order.status = "held"
            return order, []
        fills: list[Execution] = []
        for held in self._family(order):  # the held parent and children this order transmits
            if held is not order and held.status == "held":
                held.status = "Submitted" if not held.parent_id else "PreSubmitted"
                self._status(held)
                fills += self._work(held)
        if parent is not None and (parent.is_open or parent.status == "held"):
            order.status = "PreSubmitted"  # works once the parent has filled
        self._status(order)
        fills += self._work(order)
        return order, fills

    def _status(self, order: SimOrder) -> None:
        self.events.append(("status", order, "PreSubmitted" if order.status == "held" else order.status))

    def _family(self, order: SimOrder) -> list[SimOrder]:
        """The order's bracket: its root parent and every child of it, parents first."""
        root = order
        while root.parent_id:
            parent = next((o for o in self.orders if o.order_id == root.parent_id and o.client_id == root.client_id),
                          None)
            if parent is None:
                break
            root = parent
        return [root, *[o for o in self.orders if o.parent_id == root.order_id and o.client_id == root.client_id]]

    def _work(self, order: SimOrder) -> list[Execution]:
        """A working order meets the price: a market order (or a triggered stop) fills at it, a
        marketable limit at its limit; an IOC / FOK that cannot fill is canceled."""
        if not order.working:
            return []
        price = self.price(order.contract.symbol)
        if order.order_type in TRIGGERED_TYPES and not order.triggered:
            if not reached(order, price):
                return []
            order.triggered = True
        if order.order_type in ("MKT", "STP", "MIT"):
            return self._execute(order, price)
        if (order.action == "BUY" and price <= order.limit) or (order.action == "SELL" and price >= order.limit):
            return self._execute(order, order.limit)  # marketable limit: at its limit (no price improvement)
        if order.tif in ("IOC", "FOK"):
            self.cancel(order)
            self._status(order)
        return []

    def cancel(self, order: SimOrder) -> None:
        """Canceling a parent cancels its children too."""
        order.status, order.done_at = "Cancelled", time.time()
        for child in [o for o in self.orders if o.parent_id == order.order_id and o.client_id == order.client_id
                      and o.is_open]:
            child.status, child.done_at = "Cancelled", order.done_at
            self._status(child)

    def _after_fill(self, order: SimOrder) -> list[Execution]:
        """A filled parent's children start working; a filled order cancels the rest of its OCA
        group and its bracket siblings (IB makes a bracket's children one-cancels-all)."""
        fills: list[Execution] = []
        for other in [o for o in self.orders if o.is_open and o is not order and o.account == order.account]:
            sibling = (order.parent_id and other.parent_id == order.parent_id and other.client_id == order.client_id)
            if (order.oca_group and other.oca_group == order.oca_group) or sibling:
                other.status, other.done_at = "Cancelled", time.time()
                self._status(other)
        for child in [o for o in self.orders if o.parent_id == order.order_id and o.client_id == order.client_id
                      and o.status == "PreSubmitted"]:
            child.status = "Submitted"
            self._status(child)
            fills += self._work(child)
        return fills

    def _execute(self, order: SimOrder, price: Decimal) -> list[Execution]:
        """Fill the order whole at price; then what its fill sets off (children, OCA cancels)."""
        return [self._execution(order, price), *self._after_fill(order)]

    def _execution(self, order: SimOrder, price: Decimal) -> Execution:
        shares = order.quantity - order.filled
        now = time.time()
        order.avg_price = (order.avg_price * order.filled + price * shares) / (order.filled + shares)
        order.filled += shares
        order.status, order.done_at = "Filled", now
        acct = self.accounts[order.account]
        row = acct.positions.setdefault(order.contract.symbol, PositionRow())
        signed = shares * order.signed
        mult = order.contract.multiplier
        realized = None
        if row.quantity and (row.quantity > 0) != (signed > 0):  # reduces (or flips) the position
            closing = min(abs(signed), abs(row.quantity))
            realized = (price - row.avg_price) * closing * mult * (1 if row.quantity > 0 else -1)
            acct.realized += realized
            acct.cash += realized
            remaining = row.quantity + signed
            if remaining == 0:
                row.quantity, row.avg_price = ZERO, ZERO
            elif (remaining > 0) == (row.quantity > 0):
                row.quantity = remaining
            else:
                row.quantity, row.avg_price = remaining, price
        else:
            total = row.quantity + signed
            row.avg_price = (row.avg_price * abs(row.quantity) + price * abs(signed)) / abs(total)
            row.quantity = total
        commission = order.contract.commission * shares
        acct.cash -= commission
        seq = next(self._exec_seq)
        execution = Execution(f"0000e0d5.{int(now):08x}.{seq:02d}.01", order, now, shares, price, order.filled,
                              order.avg_price, commission, realized)
        self.executions.append(execution)
        self.events.append(("fill", execution, "Filled"))
        return execution

    def executions_since(self, account: str | None = None, since: float | None = None,
                         symbol: str = "", side: str = "") -> list[Execution]:
        return [e for e in self.executions
                if account in (None, "", e.order.account) and (since is None or e.at >= since)
                and symbol in ("", e.order.contract.symbol)
                and side in ("", "BOT" if e.order.action == "BUY" else "SLD")]

    def bars(self, symbol: str, count: int, seconds: int, now: float | None = None) -> list[tuple]:
        """Deterministic hourly-ish bars ending at the current price (for reqHistoricalData)."""
        now = now or time.time()
        rng = random.Random(f"{symbol}:{int(now // seconds)}")
        tick = self.contracts[symbol].tick
        closes = [self.price(symbol)]
        for _ in range(count - 1):
            closes.append(max(tick, closes[-1] + tick * rng.randint(-40, 40)))
        closes.reverse()
        start = (int(now) // seconds - count + 1) * seconds
        bars = []
        for i, close in enumerate(closes):
            opened = closes[i - 1] if i else close
            bars.append((start + i * seconds, opened, max(opened, close), min(opened, close), close,
                         rng.randint(1000, 5000), close, rng.randint(100, 900)))
        return bars
