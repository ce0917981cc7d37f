"""The IB simulator's admin API: JSON over HTTP under /_sim/ on its own port, loopback only.

    GET    /_sim/health
    POST   /_sim/accounts                     {account, cash?}
    GET    /_sim/accounts
    GET    /_sim/accounts/{code}/orders       ?orderRef= &status=   every order that reached the venue
    GET    /_sim/accounts/{code}/executions   ?orderRef=
    GET    /_sim/accounts/{code}/positions
    GET    /_sim/accounts/{code}/summary
    GET    /_sim/prices          POST /_sim/prices {symbol, price}   (ES moves MES, NQ moves MNQ)
    POST   /_sim/tick            {n?}
    GET    /_sim/faults          POST /_sim/faults {kind, operation?, account?, count?, latency_ms?, code?, msg?}
    DELETE /_sim/faults          DELETE /_sim/faults/{id}
    GET    /_sim/sessions        POST /_sim/sessions/drop {account?}
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from venue_sim.admin import loopback_only
from venue_sim.ib.faults import KINDS
from venue_sim.ib.protocol import fmt

if TYPE_CHECKING:
    from venue_sim.ib.server import IbSimulator


def _order_json(o) -> dict:
    return {"orderId": o.order_id, "clientId": o.client_id, "permId": o.perm_id, "account": o.account,
            "symbol": o.contract.symbol, "localSymbol": o.contract.local_symbol, "action": o.action,
            "totalQuantity": fmt(o.quantity), "orderType": o.order_type,
            "lmtPrice": fmt(o.limit) if o.limit is not None else None,
            "auxPrice": fmt(o.aux) if o.aux is not None else None, "parentId": o.parent_id, "ocaGroup": o.oca_group,
            "tif": o.tif, "orderRef": o.order_ref,
            "status": o.status, "filled": fmt(o.filled), "avgFillPrice": fmt(o.avg_price), "time": o.at}


def _execution_json(e) -> dict:
    return {"execId": e.exec_id, "permId": e.order.perm_id, "orderId": e.order.order_id,
            "orderRef": e.order.order_ref, "symbol": e.order.contract.symbol,
            "side": "BOT" if e.order.action == "BUY" else "SLD", "shares": fmt(e.shares), "price": fmt(e.price),
            "commission": fmt(e.commission), "time": e.at}


def admin_app(sim: IbSimulator) -> web.Application:
    app = web.Application(middlewares=[loopback_only])

    async def body(request: web.Request) -> dict:
        data = await request.json() if request.can_read_body else {}
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        return data

    def account(request: web.Request):
        acct = sim.book.accounts.get(request.match_info["code"])
        if acct is None:
            raise web.HTTPNotFound(text=f'{{"error": "no account {request.match_info["code"]}"}}',
                                   content_type="application/json")
        return acct

    async def health(request):
        return web.json_response({"ok": True, "port": sim.port, "serverVersion": 178})

    async def create_account(request):
        data = await body(request)
        if data["account"] in sim.book.accounts:
            return web.json_response({"error": f"account {data['account']!r} exists"}, status=409)
        acct = sim.create_account(data["account"], str(data.get("cash", "1000000")))
        return web.json_response({"account": acct.code, "cash": fmt(acct.cash)})

    async def list_accounts(request):
        return web.json_response([{"account": a.code, "cash": fmt(a.cash)} for a in sim.book.accounts.values()])

    async def orders(request):
        acct = account(request)
        ref, status = request.query.get("orderRef"), request.query.get("status")
        return web.json_response([_order_json(o) for o in sim.orders(acct.code, ref) if status in (None, o.status)])

    async def executions(request):
        acct = account(request)
        return web.json_response([_execution_json(e) for e in sim.executions(acct.code, request.query.get("orderRef"))])

    async def positions(request):
        acct = account(request)
        return web.json_response([{"symbol": s, "position": fmt(r.quantity), "avgPrice": fmt(r.avg_price)}
                                  for s, r in acct.positions.items() if r.quantity])

    async def summary(request):
        acct = account(request)
        return web.json_response({k: fmt(v) for k, v in sim.book.summary(acct).items()})

    async def prices(request):
        return web.json_response({s: fmt(sim.book.price(s)) for s in sim.book.contracts})

    async def set_price(request):
        data = await body(request)
        sim.set_price(data["symbol"], Decimal(str(data["price"])))
        return await prices(request)

    async def tick(request):
        data = await body(request)
        for _ in range(int(data.get("n", 1))):
            sim._report_fills(sim.book.tick())  # noqa: SLF001
        return await prices(request)

    async def list_faults(request):
        return web.json_response({"faults": [f.to_json() for f in sim.faults.items], "kinds": list(KINDS)})

    async def add_fault(request):
        return web.json_response(sim.inject(**(await body(request))).to_json())

    async def clear_faults(request):
        fault_id = request.match_info.get("id")
        return web.json_response({"removed": sim.faults.remove(int(fault_id) if fault_id else None)})

    async def sessions(request):
        return web.json_response(sim.sessions())

    async def drop_sessions(request):
        return web.json_response({"closed": await sim.drop_sessions((await body(request)).get("account"))})

    acct_path = "/_sim/accounts/{code}"
    app.add_routes([
        web.get("/_sim/health", health),
        web.post("/_sim/accounts", create_account), web.get("/_sim/accounts", list_accounts),
        web.get(f"{acct_path}/orders", orders), web.get(f"{acct_path}/executions", executions),
        web.get(f"{acct_path}/positions", positions), web.get(f"{acct_path}/summary", summary),
        web.get("/_sim/prices", prices), web.post("/_sim/prices", set_price), web.post("/_sim/tick", tick),
        web.get("/_sim/faults", list_faults), web.post("/_sim/faults", add_fault),
        web.delete("/_sim/faults", clear_faults), web.delete("/_sim/faults/{id}", clear_faults),
        web.get("/_sim/sessions", sessions), web.post("/_sim/sessions/drop", drop_sessions),
    ])
    return app
