"""The master's own stop orders, as its order stream showed them (master_orders): what
risk-percent sizing measures a follower's risk to (sizing.risk_stop)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from copytrade.type.v1 import trading_pb2
from services.kit.db import Database
from services.replication.store import MasterOrderRow

STOPS = (trading_pb2.ORDER_TYPE_STOP_MARKET, trading_pb2.ORDER_TYPE_STOP_LIMIT)


async def protecting_stop(db: Database, master_account_id: str, symbol: str, side: str) -> Decimal | None:
    """The trigger of the master's working stop that would close what a `side` trade in `symbol`
    opens (a sell stop for a buy), the nearest if there are several; None without one."""
    closing = trading_pb2.SIDE_SELL if side == "buy" else trading_pb2.SIDE_BUY
    async with db.session() as session:
        triggers = [t for t in (await session.execute(select(MasterOrderRow.trigger_price).where(
            MasterOrderRow.master_account_id == master_account_id, MasterOrderRow.symbol == symbol,
            MasterOrderRow.side == closing, MasterOrderRow.open.is_(True),
            MasterOrderRow.order_type.in_(STOPS)))).scalars() if t is not None and t > 0]
    if not triggers:
        return None
    return max(triggers) if side == "buy" else min(triggers)
