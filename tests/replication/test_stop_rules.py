"""The pure rules behind mirrored stops and protective orders: what a master order change means,
the follower's own stop-loss and take-profit, the settings that ask for them, the order a copy
sends to a venue that lacks a feature, and risk-percent sizing measured to the master's stop."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.kit import errors
from services.domain import copy_settings, sizing
from services.domain.copy_settings import Level, Protective
from services.replication.fills import order_change
from services.replication.orders import order_request
from services.replication.protective import protective_orders
from services.replication.store import FollowerOrderRow, MasterOrderRow
from services.replication.venues.base import Instrument, OrderRequest, OrderState, triggers

PERP = Instrument("BTC/USDT:USDT", "BTCUSDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                  Decimal("5"), market_type="swap")
SPOT = Instrument("BTC/USDT", "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"),
                  Decimal("5"))


def state(order_type="stop_market", status="open", quantity="1", filled="0", trigger="95", price=None, **extra):
    return OrderState("c1", "v1", "ES", "sell", Decimal(quantity), Decimal(filled), None, status,
                      order_type=order_type, trigger_price=Decimal(trigger) if trigger else None,
                      price=Decimal(price) if price else None, **extra)


def previous(trigger="95", quantity="1", price="0", open_=True) -> MasterOrderRow:
    return MasterOrderRow(master_order_id="a:v1", master_account_id="a", symbol="ES", side=trading_pb2.SIDE_SELL,
                          quantity=Decimal(quantity), price=Decimal(price), filled_quantity=Decimal(0), open=open_,
                          version=1, update_time=datetime.now(UTC), order_type=trading_pb2.ORDER_TYPE_STOP_MARKET,
                          trigger_price=Decimal(trigger))


# --- master order changes ------------------------------------------------------------------
def test_a_stop_that_rests_opens_and_its_new_trigger_is_an_amendment():
    assert order_change(None, state()) == events.MASTER_ORDER_CHANGE_OPENED
    assert order_change(previous(), state(trigger="96")) == events.MASTER_ORDER_CHANGE_AMENDED
    assert order_change(previous(), state(quantity="2")) == events.MASTER_ORDER_CHANGE_AMENDED
    assert order_change(previous(), state()) is None  # a repeat
    assert order_change(previous(), state(status="canceled")) == events.MASTER_ORDER_CHANGE_CANCELED
    assert order_change(previous(), state(status="expired")) == events.MASTER_ORDER_CHANGE_CANCELED


def test_a_stop_that_fires_is_neither_a_cancel_nor_a_new_order():
    fired = state(triggered=True)
    assert order_change(previous(), fired) is None  # working now: its copy fires at its own venue
    assert order_change(previous(), state(status="closed", filled="1", triggered=True)) is None
    assert order_change(None, fired) is None  # the order a triggered stop placed (Binance's Algo Service)
    assert order_change(None, state(order_type="market", trigger=None)) is None


def test_a_close_position_stop_with_no_quantity_still_rests():
    assert order_change(None, state(quantity="0", close_position=True)) == events.MASTER_ORDER_CHANGE_OPENED


@given(order_type=st.sampled_from(["stop_market", "stop_limit", "take_profit_market", "take_profit_limit"]),
       side=st.sampled_from(["buy", "sell"]), trigger=st.integers(1, 1000), last=st.integers(1, 1000))
def test_triggers_follow_the_side_and_the_type(order_type, side, trigger, last):
    fired = triggers(order_type, side, Decimal(trigger), Decimal(last))
    against = (last >= trigger) if side == "buy" else (last <= trigger)  # the price moved against the side
    towards = (last <= trigger) if side == "buy" else (last >= trigger)
    assert fired == (against if order_type.startswith("stop") else towards)


# --- the follower's own protective orders ---------------------------------------------------
def test_a_long_gets_a_stop_below_and_a_take_profit_above_one_the_other_s_oco():
    orders = protective_orders(Protective(Level(fraction=Decimal("0.02")), Level(price=Decimal("66000"))),
                               Decimal("64000"), "buy", Decimal("0.02"), PERP, for_order="ctx")
    assert [(o.order_type, o.side, o.quantity, o.trigger_price, o.reduce_only) for o in orders] == [
        ("stop_market", "sell", Decimal("0.02"), Decimal("62720.0"), True),
        ("take_profit_market", "sell", Decimal("0.02"), Decimal("66000"), True)]
    assert orders[0].oco_group == orders[1].oco_group != "" and {o.parent_client_order_id for o in orders} == {"ctx"}
    assert protective_orders(Protective(Level(fraction=Decimal("0.02")), Level(price=Decimal("66000"))),
                             Decimal("64000"), "buy", Decimal("0.02"), PERP, for_order="ctx") == orders  # same ids


def test_a_short_s_are_mirrored_and_spot_has_no_reduce_only():
    [stop] = protective_orders(Protective(stop_loss=Level(fraction=Decimal("0.01"))), Decimal("100"), "sell",
                               Decimal("1"), PERP, for_order="x")
    assert (stop.side, stop.trigger_price, stop.oco_group) == ("buy", Decimal("101.0"), "")
    [spot] = protective_orders(Protective(take_profit=Level(fraction=Decimal("0.5"))), Decimal("100"), "buy",
                               Decimal("1"), SPOT, for_order="x")
    assert (spot.trigger_price, spot.reduce_only) == (Decimal("150.00"), False)


def test_a_level_on_the_wrong_side_of_the_fill_is_left_out():
    orders = protective_orders(Protective(Level(price=Decimal("65000")), Level(price=Decimal("66000"))),
                               Decimal("64000"), "buy", Decimal("0.02"), PERP, for_order="ctx")
    assert [(o.order_type, o.oco_group) for o in orders] == [("take_profit_market", "")]  # the stop would fire at once


@given(fraction=st.decimals(min_value="0.001", max_value="0.5", places=3), fill=st.decimals("100", "90000", places=1),
       side=st.sampled_from(["buy", "sell"]))
def test_protective_triggers_sit_on_the_tick_on_either_side_of_the_fill(fraction, fill, side):
    orders = protective_orders(Protective(Level(fraction=fraction), Level(fraction=fraction)), fill, side,
                               Decimal("1"), PERP, for_order="p")
    for order in orders:
        assert order.trigger_price % PERP.tick_size == 0 and order.side != side
        loss = order.order_type == "stop_market"
        assert (order.trigger_price < fill) == ((side == "buy") == loss)
        assert not triggers(order.order_type, order.side, order.trigger_price, fill)  # never fires at the fill


def test_protective_settings_are_validated():
    good = pb.CopySettings(sizing_mode=pb.SIZING_MODE_MULTIPLIER, multiplier="1",
                           protective_stop_loss=pb.ProtectiveLevel(fraction="0.05"),
                           protective_take_profit=pb.ProtectiveLevel(price="70000"))
    assert copy_settings.protective(good) == Protective(Level(fraction=Decimal("0.05")), Level(price=Decimal("70000")))
    for bad in (pb.ProtectiveLevel(fraction="0"), pb.ProtectiveLevel(fraction="1"), pb.ProtectiveLevel(price="-3"),
                pb.ProtectiveLevel(price="NaN"), pb.ProtectiveLevel()):
        settings = pb.CopySettings(sizing_mode=pb.SIZING_MODE_MULTIPLIER, multiplier="1", protective_stop_loss=bad)
        with pytest.raises(errors.DomainError) as err:
            copy_settings.validate(settings)
        assert err.value.reason == "INVALID_SETTINGS"


# --- the order a copy sends -----------------------------------------------------------------
@dataclass
class Venue:
    takes: set[str]

    def supports(self, order: OrderRequest) -> bool:
        return all(getattr(order, name) in (False, "") or name in self.takes
                   for name in ("close_position", "oco_group", "parent_client_order_id"))


def copy_row(**fields) -> FollowerOrderRow:
    return FollowerOrderRow(order_id="ct1", symbol="ES", side=trading_pb2.SIDE_SELL, quantity=Decimal(2),
                            order_type=trading_pb2.ORDER_TYPE_STOP_MARKET, trigger_price=Decimal("95"), **fields)


def test_a_copy_keeps_the_links_its_venue_takes_and_is_reduce_only_where_it_cannot_close_the_position():
    row = copy_row(close_position=True, oco_group="g", parent_order_id="p")
    everything = order_request(row, Venue({"close_position", "oco_group", "parent_client_order_id"}), reduce_only=True)
    assert (everything.close_position, everything.reduce_only, everything.oco_group,
            everything.parent_client_order_id) == (True, False, "g", "p")
    bare = order_request(row, Venue(set()), reduce_only=False)
    assert (bare.order_type, bare.trigger_price, bare.close_position, bare.reduce_only, bare.oco_group,
            bare.parent_client_order_id) == ("stop_market", Decimal("95"), False, True, "", "")


# --- risk-percent sizing to the master's stop -----------------------------------------------
RISK = sizing.Settings(mode="RISK_PERCENT", risk_percent=Decimal("0.01"), stop_distance=Decimal("500"))


def test_risk_percent_measures_to_the_master_s_stop_and_says_so():
    trade = sizing.MasterTrade("BTC/USDT", "buy", Decimal("1"), Decimal("50000"))
    typed = sizing.size(RISK, trade, SPOT, follower_equity=Decimal("10000"))
    assert (typed.quantity, typed.stop_source, typed.stop_distance) == (Decimal("0.2"), "follower", Decimal("500"))
    measured = sizing.size(RISK, trade, SPOT, follower_equity=Decimal("10000"), master_stop=Decimal("49000"))
    assert (measured.quantity, measured.stop_source, measured.stop_distance) == (
        Decimal("0.1"), "master", Decimal("1000"))  # 100 at risk over the master's 1,000
    above = sizing.size(RISK, trade, SPOT, follower_equity=Decimal("10000"), master_stop=Decimal("51000"))
    assert above.stop_source == "follower"  # a stop above a buy protects nothing it opens


@given(price=st.decimals("1000", "90000", places=2), gap=st.decimals("1", "900", places=2),
       equity=st.decimals("100", "1000000", places=2), side=st.sampled_from(["buy", "sell"]))
def test_risk_percent_risks_at_most_the_percent_to_the_master_stop(price, gap, equity, side):
    stop = price - gap if side == "buy" else price + gap
    sized = sizing.size(RISK, sizing.MasterTrade("BTC/USDT", side, Decimal("1"), price), SPOT,
                        follower_equity=equity, master_stop=stop)
    if sized.refused:
        return
    assert sized.stop_source == "master" and sized.stop_distance == gap
    at_risk = sized.quantity * gap
    assert at_risk <= equity * RISK.risk_percent < at_risk + SPOT.lot_size * gap
