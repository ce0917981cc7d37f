"""A follower's own protective orders: a stop-loss and a take-profit set in the copy settings (a
fraction of the fill price away from it, or a price), placed once an opening copy has filled,
one the other's OCO. Pure: the copy engine calls protective_orders after an opening copy fills
and sends what it returns (services/replication/resting.py, RestingCopies.place_protective). The
levels themselves (Level, Protective) are the copy settings' (services/domain/copy_settings.py)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from services.domain.copy_settings import Level, Protective
from services.replication.client_order_id import client_order_id
from services.replication.venues.base import Instrument, OrderRequest


def trigger(level: Level, fill_price: Decimal, *, above: bool) -> Decimal:
    if level.price is not None:
        return level.price
    return fill_price * (1 + level.fraction if above else 1 - level.fraction)


def protective_orders(settings: Protective, fill_price: Decimal, side: str, quantity: Decimal,
                      instrument: Instrument, *, for_order: str) -> list[OrderRequest]:
    """The stop-loss and take-profit for an opening copy that filled `quantity` at `fill_price`
    on `side` ("buy" opened or added to a long): on the other side, reduce-only on derivatives,
    triggers on the instrument's tick, each the other's OCO when both are set. A level that
    lies on the wrong side of the fill price (it would fire at once) is left out. Client order
    ids derive from the copy's (`for_order`), so asking twice asks for the same orders."""
    if quantity <= 0 or fill_price <= 0:
        return []
    long = side == "buy"
    close = "sell" if long else "buy"
    legs = [(settings.stop_loss, "stop_market", not long, "stop-loss"),
            (settings.take_profit, "take_profit_market", long, "take-profit")]
    wanted = [(level, kind, above, name) for level, kind, above, name in legs if level is not None]
    group = client_order_id(for_order, "protective") if len(wanted) > 1 else ""
    orders = []
    for level, kind, above, name in wanted:
        price = (trigger(level, fill_price, above=above) / instrument.tick_size).to_integral_value(
            ROUND_HALF_UP) * instrument.tick_size
        if price <= 0 or (price > fill_price) != above or price == fill_price:
            continue
        orders.append(OrderRequest(client_order_id(for_order, name), instrument.symbol, close, quantity, kind,
                                   trigger_price=price, reduce_only=instrument.market_type != "spot",
                                   oco_group=group, parent_client_order_id=for_order))
    if len(orders) == 1 and group:  # one level left out: the other stands alone
        orders = [OrderRequest(**{**orders[0].__dict__, "oco_group": ""})]
    return orders
