"""The admin API: JSON over HTTP under /_sim/, unauthenticated and answered on loopback only.
Tests, demos and benchmarks drive the venue with it and ask it what really happened.

    POST   /_sim/accounts                      {name, balances?, futures_wallet?, api_key?, secret?, passphrase?,
                                                public_key?}
    GET    /_sim/accounts
    POST   /_sim/accounts/{name}/keys          {api_key?, secret?, can_trade?, passphrase?, public_key?}
    POST   /_sim/accounts/{name}/fund          {asset, amount, wallet?: "spot"|"futures"}
    GET    /_sim/accounts/{name}/balances      spot balances
    GET    /_sim/accounts/{name}/futures/account
    GET    /_sim/accounts/{name}/orders        ?market=spot|futures &clientOrderId= &status=
                                               (futures: conditional orders too, as the Algo Service shows them)
    GET    /_sim/accounts/{name}/futures/orders
    GET    /_sim/accounts/{name}/positions     (also .../futures/positions)
    GET    /_sim/accounts/{name}/trades        ?market=spot|futures
    GET    /_sim/prices          POST /_sim/prices {symbol, price}
    POST   /_sim/price-path      {symbol, prices: [...]}   the next ticks follow it
    POST   /_sim/tick            {n?}                      step prices n times
    POST   /_sim/slippage        {fraction}
    GET    /_sim/faults          POST /_sim/faults {kind, endpoint?, account?, count?, ...}
    DELETE /_sim/faults          DELETE /_sim/faults/{id}
    GET    /_sim/streams         POST /_sim/streams/drop {account?}
    POST   /_sim/streams/hold    {account, down?}          refused until released (down: false)
    POST   /_sim/streams/mute    {account}                 open but quiet until subscribed again
    GET    /_sim/requests        ?account= &endpoint= &limit=
    GET    /_sim/rate-limits     the bybit dialect's limits, overrides and refusal counts
    POST   /_sim/rate-limits     {account, endpoint, per_second, category?} | {ip_limit?, ip_window_s?,
                                 ip_ban_s?, enabled?, lift_bans?}
    GET    /_sim/health
"""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim import wire
from venue_sim.faults import KINDS

if TYPE_CHECKING:
    from venue_sim.server import Simulator


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


@web.middleware
async def loopback_only(request: web.Request, handler):
    if request.path.startswith("/_sim") and not _loopback(request.remote):
        return web.json_response({"error": "the admin API answers on loopback only"}, status=403)
    try:
        return await handler(request)
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        if not request.path.startswith("/_sim"):
            raise
        return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)


def _json_error(status: int, message: str) -> web.HTTPException:
    cls = {404: web.HTTPNotFound, 409: web.HTTPConflict}[status]
    return cls(text=json.dumps({"error": message}), content_type="application/json")


class AdminApi:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[web.RouteDef]:
        acct = "/_sim/accounts/{name}"
        return [
            web.get("/_sim/health", self.health),
            web.post("/_sim/accounts", self.create_account), web.get("/_sim/accounts", self.list_accounts),
            web.post(f"{acct}/keys", self.add_key), web.post(f"{acct}/fund", self.fund),
            web.get(f"{acct}/balances", self.balances), web.get(f"{acct}/futures/account", self.futures_account),
            web.get(f"{acct}/orders", self.orders), web.get(f"{acct}/futures/orders", self.futures_orders),
            web.get(f"{acct}/positions", self.positions), web.get(f"{acct}/futures/positions", self.positions),
            web.get(f"{acct}/trades", self.trades),
            web.get("/_sim/prices", self.prices), web.post("/_sim/prices", self.set_price),
            web.post("/_sim/price-path", self.price_path), web.post("/_sim/tick", self.tick),
            web.post("/_sim/slippage", self.slippage),
            web.get("/_sim/faults", self.list_faults), web.post("/_sim/faults", self.add_fault),
            web.delete("/_sim/faults", self.clear_faults), web.delete("/_sim/faults/{id}", self.clear_faults),
            web.get("/_sim/streams", self.streams), web.post("/_sim/streams/drop", self.drop_streams),
            web.post("/_sim/streams/hold", self.hold_streams),
            web.post("/_sim/streams/mute", self.mute_streams),
            web.get("/_sim/requests", self.requests),
            web.get("/_sim/rate-limits", self.rate_limits), web.post("/_sim/rate-limits", self.set_rate_limits),
        ]

    def _account(self, request: web.Request):
        account = self.sim.exchange.accounts.get(request.match_info["name"])
        if account is None:
            raise _json_error(404, f"no account {request.match_info['name']!r}")
        return account

    @staticmethod
    async def _body(request: web.Request) -> dict:
        if not request.can_read_body:
            return {}
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON object is expected")
        return body

    async def health(self, request):
        return web.json_response({"ok": True, "seed": self.sim.exchange.seed, "url": self.sim.url})

    async def create_account(self, request):
        body = await self._body(request)
        if body["name"] in self.sim.exchange.accounts:
            raise _json_error(409, f"account {body['name']!r} exists")
        account = self.sim.create_account(body["name"], body.get("balances"), futures_wallet=body.get("futures_wallet"),
                                          api_key=body.get("api_key"), secret=body.get("secret"),
                                          passphrase=body.get("passphrase"), public_key=body.get("public_key"))
        return web.json_response({"name": account.name, "api_key": account.api_key, "secret": account.secret,
                                  "passphrase": account.passphrase})

    async def list_accounts(self, request):
        return web.json_response([{"name": a.name, "api_keys": a.keys} for a in self.sim.exchange.accounts.values()])

    async def add_key(self, request):
        body = await self._body(request)
        key = self.sim.exchange.add_key(self._account(request), api_key=body.get("api_key"),
                                        secret=body.get("secret"), can_trade=body.get("can_trade", True),
                                        passphrase=body.get("passphrase"), public_key=body.get("public_key"))
        return web.json_response({"api_key": key.key, "secret": key.secret, "can_trade": key.can_trade,
                                  "passphrase": key.passphrase})

    async def fund(self, request):
        body = await self._body(request)
        account = self._account(request)
        self.sim.fund(account.name, body.get("asset", "USDT"), Decimal(str(body["amount"])),
                      wallet=body.get("wallet", "spot"))
        return web.json_response({"ok": True})

    async def balances(self, request):
        return web.json_response(wire.balances_json(self._account(request)))

    async def futures_account(self, request):
        return web.json_response(wire.futures_account_json(self.sim.perps, self.sim.perps.book(self._account(request))))

    async def orders(self, request):
        """Every order that reached the venue for this account, oldest first: the ground truth
        behind "did my order get there, and only once?"."""
        account = self._account(request)
        market = request.query.get("market", "spot")
        cid, status = request.query.get("clientOrderId"), request.query.get("status")
        if market == "spot":
            rows = [wire.order_json(o) for o in self.sim.orders(account.name, cid)]
        elif market in ("futures", "linear"):
            # A triggered conditional order's own order is not another order that arrived.
            rows = [wire.futures_order_json(o) for o in self.sim.futures_orders(account.name, cid) if o.algo_id is None]
            rows += [{**wire.algo_json(a), "status": a.status} for a in self.sim.algo_orders(account.name, cid)]
        else:
            raise ValueError("market is spot or futures")
        return web.json_response([{**r, "market": market} for r in rows if status in (None, r["status"])])

    async def futures_orders(self, request):
        account = self._account(request)
        return web.json_response([wire.futures_order_json(o) for o in self.sim.futures_orders(
            account.name, request.query.get("clientOrderId"))])

    async def positions(self, request):
        perps = self.sim.perps
        rows = wire.futures_positions_json(perps, perps.book(self._account(request)), every_symbol=False)
        return web.json_response(rows)

    async def trades(self, request):
        account = self._account(request)
        if request.query.get("market", "spot") == "futures":
            return web.json_response([wire.futures_trade_json(t) for t in self.sim.perps.book(account).trades])
        return web.json_response([{**wire.trade_json(t), "clientOrderId": t.client_order_id} for t in account.trades])

    async def prices(self, request):
        return web.json_response({s: wire.d8(p) for s, p in self.sim.exchange.prices.items()})

    async def set_price(self, request):
        body = await self._body(request)
        self.sim.set_price(body["symbol"], Decimal(str(body["price"])))
        return await self.prices(request)

    async def price_path(self, request):
        body = await self._body(request)
        self.sim.price_path(body["symbol"], [Decimal(str(p)) for p in body["prices"]])
        return web.json_response({"ok": True})

    async def tick(self, request):
        body = await self._body(request)
        self.sim.tick(int(body.get("n", 1)))
        return await self.prices(request)

    async def slippage(self, request):
        self.sim.set_slippage(Decimal(str((await self._body(request))["fraction"])))
        return web.json_response({"ok": True})

    async def list_faults(self, request):
        return web.json_response({"faults": [f.to_json() for f in self.sim.faults.items], "kinds": KINDS})

    async def add_fault(self, request):
        return web.json_response(self.sim.inject(**(await self._body(request))).to_json())

    async def clear_faults(self, request):
        fault_id = request.match_info.get("id")
        return web.json_response({"removed": self.sim.faults.remove(int(fault_id) if fault_id else None)})

    async def streams(self, request):
        ud = self.sim.userdata
        return web.json_response({a.name: {"spot": sum(len(ud.spot.get(k, ())) for k in a.keys),
                                           "futures": sum(len(ud.futures.get(k, ())) for k in a.keys)}
                                  for a in self.sim.exchange.accounts.values()})

    async def drop_streams(self, request):
        body = await self._body(request)
        return web.json_response({"closed": await self.sim.drop_streams(body.get("account"))})

    async def hold_streams(self, request):
        body = await self._body(request)
        if not body.get("account"):
            return web.json_response({"error": "account is required"}, status=400)
        await self.sim.hold_streams_down(body["account"], bool(body.get("down", True)))
        return web.json_response({"account": body["account"], "down": bool(body.get("down", True))})

    async def mute_streams(self, request):
        body = await self._body(request)
        if not body.get("account"):
            return web.json_response({"error": "account is required"}, status=400)
        return web.json_response({"account": body["account"], "muted": self.sim.mute_streams(body["account"])})

    async def requests(self, request):
        account, endpoint = request.query.get("account"), request.query.get("endpoint")
        limit = int(request.query.get("limit", 1000))
        rows = [{"time": t, "endpoint": e, "account": a} for t, e, a in self.sim.request_log
                if account in (None, a) and endpoint in (None, e)]
        return web.json_response(rows[-limit:])

    async def rate_limits(self, request):
        return web.json_response(self.sim.rate_limits.to_json())

    async def set_rate_limits(self, request):
        body = await self._body(request)
        limits = self.sim.rate_limits
        if "endpoint" in body:
            limits.set_limit(body["account"], body["endpoint"], int(body["per_second"]), body.get("category"))
        for name in ("ip_limit", "ip_window_s", "ip_ban_s", "enabled"):
            if name in body:
                setattr(limits, name, type(getattr(limits, name))(body[name]))
        if body.get("lift_bans"):
            limits.lift_bans()
        return web.json_response(limits.to_json())
