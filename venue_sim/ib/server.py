"""IbSimulator: a loopback TWS / IB Gateway speaking the TWS API socket protocol (server version
178) well enough for unmodified ib_async, plus an admin HTTP API for prices, faults and what
really happened.

    sim = await IbSimulator(seed=1).start()        # sim.port: TWS API; sim.admin_url: /_sim/
    sim.create_account("DU1000001")
    ib = ib_async.IB(); await ib.connectAsync("127.0.0.1", sim.port, clientId=7, account="DU1000001")

One simulated login manages every account created on it (as an advisor or multi-account login
does): managedAccounts lists them, and an order names its account (error 436 when it does not
and there are several). Order events go to the API client (clientId) that placed the order, to
clientId 0, and to the "Master API client ID" when one is configured (master_client_id). IB's
order-id rule holds per clientId: each new id must exceed every id that client used before
(error 103 "Duplicate order id" otherwise), and nextValidId says where to start, across
reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from aiohttp import web

from venue_sim.ib import protocol as p
from venue_sim.ib.book import Execution, FutureContract, IbBook, Rejected, SimOrder
from venue_sim.ib.faults import IbFaults

log = logging.getLogger("venue_sim.ib")

QUERY_MESSAGES = {p.In.REQ_OPEN_ORDERS, p.In.REQ_ALL_OPEN_ORDERS, p.In.REQ_COMPLETED_ORDERS, p.In.REQ_EXECUTIONS}
BAR_SECONDS = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600, "day": 86400,
               "days": 86400, "week": 604800, "month": 2592000}
DURATION_SECONDS = {"S": 1, "D": 86400, "W": 604800, "M": 2592000, "Y": 31536000}
ACCOUNT_TAGS = ("NetLiquidation", "TotalCashValue", "SettledCash", "EquityWithLoanValue", "InitMarginReq",
                "MaintMarginReq", "FullInitMarginReq", "FullMaintMarginReq", "AvailableFunds", "FullAvailableFunds",
                "ExcessLiquidity", "BuyingPower", "GrossPositionValue")


def _dec(text: str) -> Decimal | None:
    if text in ("", p.UNSET_DOUBLE, "1.7976931348623157e+308"):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class Session:
    """One API client connection."""

    def __init__(self, sim: IbSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sim, self.reader, self.writer = sim, reader, writer
        self.client_id: int | None = None
        self.version = 0
        self.subscribed: set[str] = set()  # accounts this client gets account updates for
        self.closed = False

    def send(self, *messages: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(b"".join(messages))

    def close(self) -> None:
        self.closed = True
        if not self.writer.is_closing():
            self.writer.close()

    async def run(self) -> None:
        try:
            if not await self._handshake():
                return
            while not self.closed:
                header = await self.reader.readexactly(4)
                fields = p.decode(await self.reader.readexactly(struct.unpack(">I", header)[0]))
                if fields:
                    await self.sim._dispatch(self, fields)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:  # noqa: BLE001 - one client's trouble must not stop the simulator
            log.exception("IB session failed")
        finally:
            self.close()
            self.sim._sessions.discard(self)

    async def _handshake(self) -> bool:
        if await self.reader.readexactly(4) != b"API\0":
            return False
        size = struct.unpack(">I", await self.reader.readexactly(4))[0]
        text = (await self.reader.readexactly(size)).decode(errors="replace")
        match = re.match(r"v(\d+)(?:\.\.(\d+))?", text)
        if not match:
            return False
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if not low <= p.SERVER_VERSION <= high:  # this simulator speaks exactly one layout
            log.warning("IB client asked for versions %s..%s; the simulator speaks %s", low, high, p.SERVER_VERSION)
            return False
        self.version = p.SERVER_VERSION
        self.writer.write(p.encode(p.SERVER_VERSION, p.ib_time(time.time())))
        return True


class IbSimulator:
    def __init__(self, *, seed: int = 0, host: str = "127.0.0.1", port: int = 0, admin_port: int = 0,
                 tick_interval: float | None = None, master_client_id: int | None = None,
                 trade_log_days: int = 1, today: date | None = None) -> None:
        """trade_log_days: how many days of executions TWS hands to reqExecutions — since
        midnight (UTC here) by default, up to 7 when its Trade Log is set to show more days, as
        TWS's; IB Gateway cannot change it."""
        if not 1 <= trade_log_days <= 7:
            raise ValueError("TWS shows 1 to 7 days of executions")
        self.trade_log_days = trade_log_days
        self.book = IbBook(seed, today=today)  # today: the day whose listed months it offers
        self.faults = IbFaults()
        self.host, self._port, self._admin_port = host, port, admin_port
        self.tick_interval = tick_interval
        self.master_client_id = master_client_id  # TWS' "Master API client ID": told of every client's orders
        self._sessions: set[Session] = set()
        self._server: asyncio.base_events.Server | None = None
        self._admin: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self.port = 0
        self.admin_url = ""

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> IbSimulator:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self.port = self._server.sockets[0].getsockname()[1]
        from venue_sim.ib.admin import admin_app  # noqa: PLC0415 - admin imports this module

        self._admin = web.AppRunner(admin_app(self), access_log=None)
        await self._admin.setup()
        site = web.TCPSite(self._admin, self.host, self._admin_port)
        await site.start()
        self.admin_url = f"http://{self.host}:{site._server.sockets[0].getsockname()[1]}"  # noqa: SLF001
        if self.tick_interval:
            self._ticker = asyncio.ensure_future(self._tick_forever())
        return self

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                session.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None

    async def __aenter__(self) -> IbSimulator:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self._sessions.add(session)
        await session.run()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            self._report_fills(self.book.tick())

    # --- what tests, demos and the admin API use ---------------------------------------------
    def create_account(self, code: str, cash: Decimal | str = "1000000"):
        return self.book.create_account(code, Decimal(str(cash)))

    def price(self, symbol: str) -> Decimal:
        return self.book.price(symbol)

    def set_price(self, symbol: str, price: Decimal) -> None:
        self._report_fills(self.book.set_price(symbol, price))

    def inject(self, **spec):
        return self.faults.add(**spec)

    def orders(self, account: str, order_ref: str | None = None) -> list[SimOrder]:
        return [o for o in self.book.orders if o.account == account and order_ref in (None, o.order_ref)]

    def executions(self, account: str, order_ref: str | None = None) -> list[Execution]:
        return [e for e in self.book.executions
                if e.order.account == account and order_ref in (None, e.order.order_ref)]

    def trade_log_start(self, now: float | None = None) -> float:
        """The oldest execution time reqExecutions answers with (midnight UTC, trade_log_days - 1 ago)."""
        today = datetime.fromtimestamp(now or time.time(), UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return (today - timedelta(days=self.trade_log_days - 1)).timestamp()

    def age_executions(self, account: str, seconds: float) -> int:
        """Make the account's executions so far `seconds` older, as if they had happened earlier
        (e.g. yesterday, beyond what reqExecutions shows). Returns how many."""
        aged = [e for e in self.book.executions if e.order.account == account]
        for e in aged:
            e.at -= seconds
        return len(aged)

    def stream_subscribed(self, account: str) -> bool:
        """A live API client gets this account's order and account updates."""
        return any(account in s.subscribed and not s.closed for s in self._sessions)

    def sessions(self) -> list[dict]:
        return [{"clientId": s.client_id, "accounts": sorted(s.subscribed)} for s in self._sessions if not s.closed]

    async def drop_sessions(self, account: str | None = None) -> int:
        """Close API connections (those subscribed to `account`, or all), as a gateway restart does."""
        victims = [s for s in self._sessions if not s.closed and (account is None or account in s.subscribed)]
        for session in victims:
            session.close()
        for session in victims:
            with contextlib.suppress(Exception):
                await session.writer.wait_closed()
        return len(victims)

    # --- dispatch -----------------------------------------------------------------------------
    async def _dispatch(self, session: Session, f: list[str]) -> None:
        msg = int(f[0])
        if session.client_id is None and msg != p.In.START_API:
            return  # TWS ignores requests before startApi
        if msg in QUERY_MESSAGES:
            plan = self.faults.plan("query", None)
            if plan.latency_s:
                await asyncio.sleep(plan.latency_s)
        handler = {
            p.In.START_API: self._start_api, p.In.PLACE_ORDER: self._place_order,
            p.In.CANCEL_ORDER: self._cancel_order, p.In.REQ_OPEN_ORDERS: self._open_orders,
            p.In.REQ_ALL_OPEN_ORDERS: self._open_orders, p.In.REQ_COMPLETED_ORDERS: self._completed_orders,
            p.In.REQ_EXECUTIONS: self._executions, p.In.REQ_IDS: self._req_ids,
            p.In.REQ_CONTRACT_DATA: self._contract_details, p.In.REQ_ACCOUNT_UPDATES: self._account_updates,
            p.In.REQ_ACCOUNT_UPDATES_MULTI: self._account_updates_multi, p.In.REQ_POSITIONS: self._positions,
            p.In.REQ_ACCOUNT_SUMMARY: self._account_summary, p.In.REQ_MKT_DATA: self._market_data,
            p.In.REQ_HISTORICAL_DATA: self._historical_data, p.In.REQ_CURRENT_TIME: self._current_time,
            p.In.REQ_MANAGED_ACCTS: self._managed_accounts,
        }.get(msg)
        if handler is not None:
            await handler(session, f)

    def _accounts(self) -> list[str]:
        return list(self.book.accounts)

    async def _start_api(self, s: Session, f: list[str]) -> None:
        client_id = int(f[2] or 0)
        if any(o is not s and o.client_id == client_id and not o.closed for o in self._sessions):
            s.send(p.error(-1, 326, "Unable to connect as the client id is already in use. "
                                    "Retry with a unique client id."))
            s.close()
            return
        s.client_id = client_id
        s.send(p.managed_accounts(self._accounts()), p.next_valid_id(self.book.next_valid_id(client_id)))

    async def _managed_accounts(self, s: Session, f: list[str]) -> None:
        s.send(p.managed_accounts(self._accounts()))

    async def _req_ids(self, s: Session, f: list[str]) -> None:
        s.send(p.next_valid_id(self.book.next_valid_id(s.client_id)))

    async def _current_time(self, s: Session, f: list[str]) -> None:
        s.send(p.current_time(time.time()))

    def _resolve(self, con_id: str, symbol: str, sec_type: str, expiry: str, exchange: str,
                 local_symbol: str) -> FutureContract | None:
        if sec_type not in ("", "FUT") or exchange not in ("", "CME", "GLOBEX", "SMART"):
            return None
        c = self.book.contract(symbol, int(con_id or 0), local_symbol)
        if c is None or (expiry and not c.expiry.startswith(expiry)):
            return None
        if local_symbol and c.local_symbol != local_symbol:
            return None
        return c

    # --- orders -------------------------------------------------------------------------------
    async def _place_order(self, s: Session, f: list[str]) -> None:
        order_id = int(f[1])
        contract = self._resolve(f[2], f[3], f[4], f[5], f[9], f[12])
        action, quantity, order_type = f[16].upper(), _dec(f[17]) or Decimal(0), f[18].upper()
        limit, aux, tif, oca_group, account, order_ref = _dec(f[19]), _dec(f[20]), f[21].upper(), f[22], f[23], f[26]
        transmit, parent_id = f[27] != "0", int(f[28] or 0)
        oca_type = int(f[46] or 0) if len(f) > 46 and f[46].lstrip("-").isdigit() else 0
        if not account and len(self.book.accounts) == 1:
            account = next(iter(self.book.accounts))
        existing = self.book.open_order(s.client_id, order_id)
        if existing is not None:  # the same id again: IB's modify
            try:
                self.book.modify(existing, quantity=quantity, order_type=order_type, limit=limit, aux=aux)
            except Rejected as err:
                s.send(p.error(order_id, err.code, err.message))
                return
            self._flush()
            return
        plan = self.faults.plan("place", account or None)
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        if contract is None:
            s.send(p.error(order_id, 200, "No security definition has been found for the request"))
            return
        if not account:
            s.send(p.error(order_id, 436, "You must specify an allocation (either a single account, group, "
                                          "or profile)."))
            return
        if plan.refuse:
            try:  # the id is spent even when the order is refused
                self.book.check_order_id(s.client_id, order_id)
                self.book.next_ids[s.client_id] = order_id + 1
            except Rejected as err:
                s.send(p.error(order_id, err.code, err.message))
                return
            s.send(p.error(order_id, *plan.refuse))
            return
        try:
            order, _ = self.book.place(client_id=s.client_id, order_id=order_id, account=account,
                                       contract=contract, action=action, quantity=quantity,
                                       order_type=order_type, limit=limit, tif=tif, order_ref=order_ref, aux=aux,
                                       oca_group=oca_group, oca_type=oca_type, parent_id=parent_id,
                                       transmit=transmit)
        except Rejected as err:
            s.send(p.error(order_id, err.code, err.message))
            return
        if plan.after == "disconnect":
            self.book.events.clear()
            s.close()
            return
        if plan.after == "error":
            self.book.events.clear()
            s.send(p.error(order_id, 322, "Error processing request.-'bB' : cause - Internal error"))
            return
        if plan.after == "unknown":
            self.book.events.clear()
            s.send(p.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost."),
                   p.error(-1, 1102, "Connectivity between IB and Trader Workstation has been restored - "
                                     "data maintained."))
            return
        if order.status == "held":
            return  # TWS holds it: nothing reaches anyone until an order transmits it
        self._flush()  # the order (and what it transmitted) accepted, then what followed

    def _owners(self, order: SimOrder) -> list[Session]:
        return [s for s in self._sessions if not s.closed
                and s.client_id in (order.client_id, 0, self.master_client_id)]

    def _notify(self, order: SimOrder, *messages: bytes) -> None:
        for session in self._owners(order):
            session.send(*messages)

    def _report_fills(self, fills: list[Execution]) -> None:
        self._flush()  # the fills are in the book's events, in order with what they set off

    def _flush(self) -> None:
        """Tell what the book did, in order: each execution, each status changed without one."""
        events, self.book.events = self.book.events, []
        for kind, item, status in events:
            if kind == "fill":
                o = item.order
                self._notify(o, p.exec_details(-1, item), p.order_status(o, "Filled", item.price),
                             p.open_order(o, "Filled"), p.commission_report(item))
                self._push_portfolio(o.account, o.contract)
                continue
            o = item
            messages = [p.open_order(o, status), p.order_status(o, status)]
            if status == "Cancelled":
                messages.append(p.error(o.order_id, 202, "Order Canceled - reason:"))
            self._notify(o, *messages)

    def _push_portfolio(self, account: str, contract: FutureContract) -> None:
        subscribers = [s for s in self._sessions if account in s.subscribed and not s.closed]
        if subscribers:
            message = self._portfolio_message(self.book.accounts[account], contract)
            for s in subscribers:
                s.send(message)

    def _portfolio_message(self, acct, c: FutureContract) -> bytes:
        row = acct.positions.get(c.symbol)
        quantity = row.quantity if row else Decimal(0)
        avg = row.avg_price if row else Decimal(0)
        price = self.book.price(c.symbol)
        return p.portfolio_value(c, quantity, price, price * quantity * c.multiplier, avg * c.multiplier,
                                 (price - avg) * quantity * c.multiplier, acct.realized, acct.code)

    async def _cancel_order(self, s: Session, f: list[str]) -> None:
        order_id = int(f[2])
        order = next((o for o in self.book.orders if o.order_id == order_id and o.client_id == s.client_id), None)
        plan = self.faults.plan("cancel", order.account if order else None)
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        if plan.refuse:
            s.send(p.error(order_id, *plan.refuse))
            return
        if order is None:
            s.send(p.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."))
            return
        if not order.is_open:
            s.send(p.error(order_id, 10148, f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                                            f"state: {order.status}."))
            return
        self.book.cancel(order)
        self._notify(order, p.order_status(order, "Cancelled"), p.error(order_id, 202, "Order Canceled - reason:"))
        self._flush()

    async def _open_orders(self, s: Session, f: list[str]) -> None:
        every_client = int(f[0]) == p.In.REQ_ALL_OPEN_ORDERS or s.client_id == 0
        for o in self.book.orders:
            if o.is_open and o.status != "held" and (every_client or o.client_id == s.client_id):
                s.send(p.open_order(o, o.status), p.order_status(o, o.status))
        s.send(p.open_order_end())

    async def _completed_orders(self, s: Session, f: list[str]) -> None:
        for o in self.book.orders:
            if not o.is_open:
                s.send(p.completed_order(o, o.status, p.ib_time(o.done_at or o.at)))
        s.send(p.completed_orders_end())

    async def _executions(self, s: Session, f: list[str]) -> None:
        req_id, client_id, account, since, symbol = int(f[2]), int(f[3] or 0), f[4], f[5], f[6]
        side = {"BUY": "BOT", "SELL": "SLD"}.get(f[9].upper(), f[9].upper()) if len(f) > 9 else ""
        asked = p.parse_ib_time(since)
        window = self.trade_log_start()  # nothing older than the trade log, whatever the filter asks
        for e in self.book.executions_since(account, max(asked or window, window), symbol.upper(), side):
            if client_id in (0, e.order.client_id):
                s.send(p.exec_details(req_id, e), p.commission_report(e))
        s.send(p.exec_details_end(req_id))

    # --- reference data and account -----------------------------------------------------------
    async def _contract_details(self, s: Session, f: list[str]) -> None:
        req_id = int(f[2])
        c = self._resolve(f[3], f[4], f[5], f[6], f[10], f[13])
        if c is None:
            s.send(p.error(req_id, 200, "No security definition has been found for the request"))
            return
        # A bare root (no conId, expiry or local symbol) is answered with every listed month, as TWS does.
        bare = not (f[3] not in ("", "0") or f[6] or f[13])
        matches = [m for m in self.book.listed if m.symbol == c.symbol] if bare else [c]
        s.send(*[p.contract_details(req_id, m) for m in matches], p.contract_details_end(req_id))

    async def _market_data(self, s: Session, f: list[str]) -> None:
        req_id = int(f[2])
        c = self._resolve(f[3], f[4], f[5], f[6], f[10], f[13])
        if c is None:
            s.send(p.error(req_id, 200, "No security definition has been found for the request"))
            return
        price = self.book.price(c.symbol)
        s.send(p.tick_price(req_id, 1, price - c.tick), p.tick_price(req_id, 2, price + c.tick),
               p.tick_price(req_id, 4, price), p.tick_price(req_id, 9, price))
        if f[17] == "1":
            s.send(p.tick_snapshot_end(req_id))

    async def _historical_data(self, s: Session, f: list[str]) -> None:
        req_id = int(f[1])
        c = self._resolve(f[2], f[3], f[4], f[5], f[9], f[12])
        if c is None:
            s.send(p.error(req_id, 200, "No security definition has been found for the request"))
            return
        size_n, _, size_unit = f[16].partition(" ")
        bar_s = int(size_n) * BAR_SECONDS.get(size_unit, 3600)
        duration_n, _, duration_unit = f[17].partition(" ")
        count = max(1, min(1000, int(duration_n) * DURATION_SECONDS.get(duration_unit, 86400) // bar_s))
        epoch = f[20] == "2"
        bars = self.book.bars(c.symbol, count, bar_s)
        rows = [(str(at) if epoch else time.strftime("%Y%m%d %H:%M:%S", time.gmtime(at)), *rest)
                for at, *rest in bars]
        s.send(p.historical_data(req_id, rows[0][0], rows[-1][0], rows))

    async def _positions(self, s: Session, f: list[str]) -> None:
        for acct in self.book.accounts.values():
            for symbol, row in acct.positions.items():
                if row.quantity:
                    c = self.book.contracts[symbol]
                    s.send(p.position(acct.code, c, row.quantity, row.avg_price * c.multiplier))
        s.send(p.position_end())

    async def _account_summary(self, s: Session, f: list[str]) -> None:
        req_id, tags = int(f[2]), set(f[4].split(","))
        for acct in self.book.accounts.values():
            if "AccountType" in tags:
                s.send(p.account_summary(req_id, acct.code, "AccountType", "INDIVIDUAL", ""))
            for tag, value in self.book.summary(acct).items():
                if tag in tags:
                    s.send(p.account_summary(req_id, acct.code, tag, f"{value:.2f}", "USD"))
        s.send(p.account_summary_end(req_id))

    async def _account_updates(self, s: Session, f: list[str]) -> None:
        subscribe, account = f[2] == "1", f[3]
        if not account and len(self.book.accounts) == 1:
            account = next(iter(self.book.accounts))
        acct = self.book.accounts.get(account)
        if not subscribe or acct is None:
            s.subscribed.discard(account)
            return
        s.subscribed.add(account)
        messages = [p.account_value("AccountCode", account, "", account),
                    p.account_value("Currency", "USD", "USD", account)]
        messages += [p.account_value(tag, f"{value:.2f}", "USD", account)
                     for tag, value in self.book.summary(acct).items()]
        messages += [self._portfolio_message(acct, self.book.contracts[symbol])
                     for symbol, row in acct.positions.items() if row.quantity]
        s.send(*messages, p.account_update_time(time.time()), p.account_download_end(account))

    async def _account_updates_multi(self, s: Session, f: list[str]) -> None:
        req_id, account = int(f[2]), f[3]
        acct = self.book.accounts.get(account)
        if acct is not None:
            s.send(*[p.account_update_multi(req_id, account, tag, f"{value:.2f}", "USD")
                     for tag, value in self.book.summary(acct).items()])
        s.send(p.account_update_multi_end(req_id))
