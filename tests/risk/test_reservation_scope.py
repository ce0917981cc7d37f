"""Reservation ids are scoped by risk, and only replication reserves. On main a master could
compute a follower's future client order id (client_order_id(fill, follower account)), reserve it
for himself, and the follower's real reservation was answered with the master's decision: a
follower limited to 100 USDT got a 0.25 BTC order booked against the attacker's position."""

import uuid
from decimal import Decimal

import grpc
import pytest
from google.protobuf import field_mask_pb2

from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.replication.client_order_id import client_order_id
from tests.gateway.test_rest import login, rest  # noqa: F401 - the gateway fixture, reused

PRICE = "60000"


def btc(user: str, quantity: str) -> pb.OrderIntent:
    return pb.OrderIntent(follower_id=user, instrument=trading_pb2.Instrument(symbol="BTC/USDT", lot_size="0.0001"),
                          side=trading_pb2.SIDE_BUY, quantity=quantity, expected_price=PRICE, reference_price=PRICE)


async def limit_position(risk: RiskServiceStub, user: str, notional: str, metadata) -> None:
    await risk.UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
        user_id=user, limits=pb.RiskLimits(max_position_size=notional),
        update_mask=field_mask_pb2.FieldMask(paths=["max_position_size"])), metadata=metadata)


async def test_a_master_cannot_pre_claim_a_followers_reservation(start_service, token_for, service_metadata,
                                                               replication_metadata):
    risk = RiskServiceStub((await start_service("risk")).channel)
    master, follower = f"m_{uuid.uuid4().hex[:8]}", f"u_{uuid.uuid4().hex[:8]}"
    await limit_position(risk, follower, "100", token_for(follower))
    await limit_position(risk, master, "1000000", token_for(master, "master"))
    # The master knows the fill id he is about to make and his follower's account id.
    stolen = client_order_id(f"fill-{uuid.uuid4().hex}", f"acct-{follower}")
    for metadata in (token_for(master, "master"), token_for(master, "operator"), service_metadata):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=stolen, intent=btc(master, "0.25")),
                                    metadata=metadata)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The copy's real reservation is decided on the follower's own 100 USDT.
    real = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=stolen, intent=btc(follower, "0.25")),
                                   metadata=replication_metadata)
    assert real.decision == pb.DECISION_REDUCED and real.refusal.reason == "POSITION_LIMIT_EXCEEDED"
    assert Decimal(real.approved_quantity) * Decimal(PRICE) <= 100
    # Nor may anyone but replication commit or release it.
    for call in (risk.CommitReservation(pb.CommitReservationRequest(reservation_id=stolen, filled_quantity="0.001",
                                                                    fill_price=PRICE), metadata=token_for(master)),
                 risk.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=stolen),
                                         metadata=token_for(follower))):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await call
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_one_id_for_two_followers_is_two_reservations(start_service, token_for, replication_metadata):
    """Even replication's own ids are scoped per follower: a colliding id never hands one
    follower's decision to another."""
    risk = RiskServiceStub((await start_service("risk")).channel)
    roomy, tight = f"u_{uuid.uuid4().hex[:8]}", f"u_{uuid.uuid4().hex[:8]}"
    await limit_position(risk, roomy, "1000000", token_for(roomy))
    await limit_position(risk, tight, "100", token_for(tight))
    same = f"ct{uuid.uuid4().hex[:26]}"
    first = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=same, intent=btc(roomy, "0.25")),
                                    metadata=replication_metadata)
    assert first.decision == pb.DECISION_APPROVED
    second = await risk.ReserveOrder(pb.ReserveOrderRequest(reservation_id=same, intent=btc(tight, "0.25")),
                                     metadata=replication_metadata)
    assert second.decision == pb.DECISION_REDUCED and Decimal(second.approved_quantity) * Decimal(PRICE) <= 100
    # Named by the id alone it is ambiguous, so it is not found: whose it is must be said.
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await risk.CommitReservation(pb.CommitReservationRequest(reservation_id=same, filled_quantity="0.25",
                                                                 fill_price=PRICE), metadata=replication_metadata)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_rest_reservations_refuse_a_user(rest):  # noqa: F811 - the gateway fixture
    user, headers = await login(rest)
    stolen = client_order_id(f"fill-{uuid.uuid4().hex}", "acct-victim")
    reply = await rest.post("/v1/reservations", headers=headers, json={
        "reservationId": stolen, "intent": {"followerId": user, "instrument": {"symbol": "BTC/USDT"},
                                            "side": "SIDE_BUY", "quantity": "0.25", "expectedPrice": PRICE}})
    assert reply.status == 403, await reply.text()
    for action in ("commit", "release"):
        reply = await rest.post(f"/v1/reservations/{stolen}:{action}", headers=headers, json={})
        assert reply.status == 403, await reply.text()
