"""Reservations over gRPC: concurrent reserves for one follower never overshoot; the kill
switch halts new exposure until reset."""

import asyncio
import uuid
from decimal import Decimal

import grpc
import pytest
from google.protobuf import field_mask_pb2

from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2


def intent(user: str, quantity: str, side=trading_pb2.SIDE_BUY, price="1000") -> pb.OrderIntent:
    return pb.OrderIntent(follower_id=user, instrument=trading_pb2.Instrument(symbol="BTC/USDT", lot_size="0.001"),
                          side=side, quantity=quantity, expected_price=price, reference_price=price)


async def test_concurrent_reservations_never_exceed_the_position_limit(start_service, backend, replication_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    # max_position_size 5000 at price 1000 → at most 5 BTC in total; 100 requests of 0.2 each.
    replies = await asyncio.gather(*(risk.ReserveOrder(pb.ReserveOrderRequest(
        reservation_id=f"{user}-{i}", intent=intent(user, "0.2")), metadata=replication_metadata) for i in range(100)))
    approved = sum(Decimal(r.approved_quantity) for r in replies if r.decision != pb.DECISION_DENIED)
    assert approved == Decimal("5")
    denied = [r for r in replies if r.decision == pb.DECISION_DENIED]
    assert len(denied) == 75 and all(r.refusal.reason == "POSITION_LIMIT_EXCEEDED" for r in denied)


async def test_a_retried_reservation_gets_the_same_answer_and_release_frees_room(start_service, replication_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    first = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id="r1", intent=intent(user, "5")),
                                    metadata=replication_metadata)
    again = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id="r1", intent=intent(user, "5")),
                                    metadata=replication_metadata)
    assert first.decision == again.decision == pb.DECISION_APPROVED
    full = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id="r2", intent=intent(user, "1")),
                                   metadata=replication_metadata)
    assert full.decision == pb.DECISION_DENIED
    await risk.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id="r1"), metadata=replication_metadata)
    freed = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id="r3", intent=intent(user, "1")),
                                    metadata=replication_metadata)
    assert freed.decision == pb.DECISION_APPROVED


async def test_only_replication_may_release_or_commit_a_reservation(start_service, token_for, service_metadata,
                                                                    replication_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user, intruder = f"u_{uuid.uuid4().hex[:8]}", f"u_{uuid.uuid4().hex[:8]}"
    held = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-r", intent=intent(user, "5")),
                                   metadata=replication_metadata)
    assert held.decision == pb.DECISION_APPROVED
    # Not a stranger, not the follower herself, not another service.
    for metadata in (token_for(intruder), token_for(user), token_for(intruder, "operator"), service_metadata):
        for call in (risk.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=f"{user}-r"),
                                             metadata=metadata),
                     risk.CommitReservation(pb.CommitReservationRequest(
                         reservation_id=f"{user}-r", filled_quantity="5", fill_price="1000"), metadata=metadata),
                     # A stranger's malformed request says no more than a well-formed one.
                     risk.CommitReservation(pb.CommitReservationRequest(reservation_id=f"{user}-r", filled_quantity="x"),
                                            metadata=metadata)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Still held: the limit is as full as before, so nothing was released.
    full = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-r2", intent=intent(user, "1")),
                                   metadata=replication_metadata)
    assert full.decision == pb.DECISION_DENIED and full.refusal.reason == "POSITION_LIMIT_EXCEEDED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await risk.CommitReservation(pb.CommitReservationRequest(reservation_id=f"{user}-r", filled_quantity="x"),
                                     metadata=replication_metadata)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "filled_quantity" in err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await risk.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id="nobody-made-this"),
                                      metadata=replication_metadata)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Replication may.
    await risk.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=f"{user}-r"),
                                  metadata=replication_metadata)
    freed = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-r3", intent=intent(user, "1")),
                                    metadata=replication_metadata)
    assert freed.decision == pb.DECISION_APPROVED


async def test_kill_switch_halts_new_exposure_until_reset(start_service, token_for, replication_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    scope = pb.TradingScope(user_id=user)
    await risk.ActivateKillSwitch(pb.ActivateKillSwitchRequest(scope=scope, reason="panic"), metadata=token_for(user))
    halted = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-a", intent=intent(user, "0.1")),
                                     metadata=replication_metadata)
    assert halted.decision == pb.DECISION_DENIED and halted.refusal.reason == "TRADING_HALTED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await risk.SetTradingState(pb.SetTradingStateRequest(scope=scope, state=trading_pb2.TRADING_STATE_ACTIVE),
                                   metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:  # the platform-wide switch is for operators
        await risk.ActivateKillSwitch(pb.ActivateKillSwitchRequest(scope=pb.TradingScope()), metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await risk.ResetTradingState(pb.ResetTradingStateRequest(scope=scope, comment="ok"), metadata=token_for(user))
    state = await risk.GetTradingState(pb.GetTradingStateRequest(scope=scope), metadata=token_for(user))
    assert state.effective_state == trading_pb2.TRADING_STATE_ACTIVE and not state.state.kill_switch_active
    resumed = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-b", intent=intent(user, "0.1")),
                                      metadata=replication_metadata)
    assert resumed.decision == pb.DECISION_APPROVED


async def test_the_order_rate_counts_reservations_of_the_last_minute(start_service, token_for, replication_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    await risk.UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
        user_id=user, limits=pb.RiskLimits(max_orders_per_minute=3),
        update_mask=field_mask_pb2.FieldMask(paths=["max_orders_per_minute"])), metadata=token_for(user))
    decisions = []
    for n in range(4):
        reply = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-{n}", intent=pb.OrderIntent(
            follower_id=user, instrument=trading_pb2.Instrument(symbol="BTC/USDT"), side=trading_pb2.SIDE_BUY, quantity="0.001",
            expected_price="60000")), metadata=replication_metadata)
        decisions.append(reply.refusal.reason or pb.Decision.Name(reply.decision))
    assert decisions == ["DECISION_APPROVED"] * 3 + ["ORDER_RATE_EXCEEDED"]


async def test_futures_contracts_count_at_their_multiplier(start_service, replication_metadata):
    """One ES contract at 5,000 is 250,000 of exposure (50 × the index), not 5,000: with the default
    5,000 position limit an order for it is refused, and a committed contract is valued so."""
    risk = RiskServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"

    def es(quantity: str, contract_size: str = "50") -> pb.OrderIntent:
        return pb.OrderIntent(follower_id=user, instrument=trading_pb2.Instrument(
            symbol="ES", lot_size="1", contract_size=contract_size), side=trading_pb2.SIDE_BUY, quantity=quantity,
            expected_price="5000", reference_price="5000")
    refused = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-es", intent=es("1")),
                                      metadata=replication_metadata)
    assert refused.decision == pb.DECISION_DENIED and refused.refusal.reason == "POSITION_LIMIT_EXCEEDED"
    # A micro contract of a cheap index fits (1 × 0.5 × 5,000 = 2,500); once filled, the rest of the
    # room is 2,500: a second one fits, a third does not.
    first = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-m1", intent=es("1", "0.5")),
                                    metadata=replication_metadata)
    assert first.decision == pb.DECISION_APPROVED
    await risk.CommitReservation(pb.CommitReservationRequest(reservation_id=f"{user}-m1", filled_quantity="1",
                                                             fill_price="5000"), metadata=replication_metadata)
    second = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-m2", intent=es("2", "0.5")),
                                     metadata=replication_metadata)
    assert (second.decision, second.approved_quantity) == (pb.DECISION_REDUCED, "1")
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=f"{user}-x", intent=es("1", "-2")),
                                metadata=replication_metadata)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
