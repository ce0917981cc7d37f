"""RiskInternalService: one call decides a whole master fill's copies, each on its own."""

import uuid
from decimal import Decimal

import grpc
import pytest
from google.protobuf import field_mask_pb2

from copytrade.risk.v1 import risk_internal_service_pb2 as ipb
from copytrade.risk.v1 import risk_service_pb2 as pb
from copytrade.risk.v1.risk_internal_service_pb2_grpc import RiskInternalServiceStub
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2

PRICE = "60000"


def order(user: str, rid: str, quantity: str = "0.01", price: str = PRICE) -> pb.ReserveOrderRequest:
    return pb.ReserveOrderRequest(reservation_id=rid, intent=pb.OrderIntent(
        follower_id=user, instrument=trading_pb2.Instrument(symbol="BTC/USDT", lot_size="0.0001"),
        side=trading_pb2.SIDE_BUY, quantity=quantity, expected_price=price, reference_price=PRICE))


def answers(reply: ipb.ReserveOrdersResponse) -> list[tuple]:
    return [(d.reservation_id, d.decision, d.approved_quantity, d.refusal.reason) for d in reply.decisions]


@pytest.fixture
async def risk(start_service, backend):
    channel = (await start_service("risk")).channel
    return RiskInternalServiceStub(channel), RiskServiceStub(channel)


async def test_a_thousand_orders_decided_in_one_call_each_on_its_own(risk, token_for, replication_metadata):
    internal, public = risk
    fill = uuid.uuid4().hex[:8]
    users = [f"u_{fill}_{i}" for i in range(980)]
    greedy, halted = f"g_{fill}", f"h_{fill}"
    await public.ActivateKillSwitch(pb.ActivateKillSwitchRequest(scope=pb.TradingScope(user_id=halted)),
                                    metadata=token_for(halted))
    await public.UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
        user_id=users[7], limits=pb.RiskLimits(max_position_size="100"),
        update_mask=field_mask_pb2.FieldMask(paths=["max_position_size"])), metadata=token_for(users[7]))
    batch = [order(u, f"{fill}-{u}") for u in users]
    # 18 orders of 0.02 BTC (1,200 USDT) for one follower: the default 5,000 holds four and a bit.
    batch += [order(greedy, f"{fill}-g{n}", "0.02") for n in range(18)]
    batch.append(order(halted, f"{fill}-h"))
    batch.append(order(users[0], f"{fill}-bad", "Infinity"))  # poison orders refused alone
    batch[500] = order("x" * 65, f"{fill}-long")  # a follower id longer than risk stores
    assert len(batch) == 1000
    reply = await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=batch), metadata=replication_metadata)
    got = answers(reply)
    assert [g[0] for g in got] == [o.reservation_id for o in batch]  # in request order
    long = reply.decisions[500]
    assert long.decision == pb.DECISION_DENIED and long.refusal.metadata["code"] == "INVALID_ARGUMENT"
    plain = [g for g, o in zip(got, batch) if o.intent.follower_id in users and o.intent.quantity == "0.01"]
    tight = plain.pop(7)
    assert tight[1] == pb.DECISION_DENIED or Decimal(tight[2]) * Decimal(PRICE) <= 100
    assert tight[3] == "POSITION_LIMIT_EXCEEDED"
    assert all(g[1] == pb.DECISION_APPROVED and g[2] == "0.01" for g in plain)
    greedy_answers = got[980:998]
    assert [g[1] for g in greedy_answers[:5]] == [pb.DECISION_APPROVED] * 4 + [pb.DECISION_REDUCED]
    assert greedy_answers[4][2] == "0.0033"  # 5,000 / 60,000 − 0.08, to the lot
    assert all(g[1] == pb.DECISION_DENIED and g[3] == "POSITION_LIMIT_EXCEEDED" for g in greedy_answers[5:])
    assert got[998][1] == pb.DECISION_DENIED and got[998][3] == "TRADING_HALTED"
    bad = reply.decisions[999]
    assert bad.decision == pb.DECISION_DENIED and bad.refusal.reason == "INVALID_ORDER"
    assert bad.refusal.metadata["code"] == "INVALID_ARGUMENT" and bad.refusal.metadata["field"] == "intent.quantity"

    # A retry (the worker died before it heard the answer) gets the same answers, and reserves nothing more.
    again = await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=batch), metadata=replication_metadata)
    assert answers(again) == got
    more = await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(greedy, f"{fill}-g-next", "0.01")]),
                                        metadata=replication_metadata)
    assert more.decisions[0].decision == pb.DECISION_DENIED


async def test_commits_and_releases_in_batches(risk, replication_metadata):
    internal, _ = risk
    fill = uuid.uuid4().hex[:8]
    a, b = f"a_{fill}", f"b_{fill}"
    await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[
        order(a, "same", "0.08"), order(b, "same", "0.08")]), metadata=replication_metadata)
    committed = await internal.CommitReservations(ipb.CommitReservationsRequest(commits=[
        ipb.ReservationCommit(follower_id=a, commit=pb.CommitReservationRequest(
            reservation_id="same", filled_quantity="0.08", fill_price=PRICE)),
        ipb.ReservationCommit(follower_id=a, commit=pb.CommitReservationRequest(  # malformed: left out alone
            reservation_id="same", filled_quantity="NaN", fill_price=PRICE)),
        ipb.ReservationCommit(follower_id=a, commit=pb.CommitReservationRequest(
            reservation_id="nobody", filled_quantity="1", fill_price=PRICE))]), metadata=replication_metadata)
    assert list(committed.reservation_ids) == ["same"]
    released = await internal.ReleaseReservations(ipb.ReleaseReservationsRequest(releases=[
        ipb.ReservationRelease(follower_id=b, release=pb.ReleaseReservationRequest(reservation_id="same"))]),
        metadata=replication_metadata)
    assert list(released.reservation_ids) == ["same"]
    # a holds 0.08 BTC (4,800 of 5,000); b's room is whole again.
    after = await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[
        order(a, "next", "0.01"), order(b, "next", "0.08")]), metadata=replication_metadata)
    assert [(d.decision, d.approved_quantity) for d in after.decisions] == [
        (pb.DECISION_REDUCED, "0.0033"), (pb.DECISION_APPROVED, "0.08")]


async def test_only_replication_may_call_and_a_batch_is_bounded(risk, token_for, service_metadata,
                                                                replication_metadata):
    internal, _ = risk
    user = f"u_{uuid.uuid4().hex[:8]}"
    calls = [lambda md: internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(user, "r")]), metadata=md),
             lambda md: internal.CommitReservations(ipb.CommitReservationsRequest(commits=[ipb.ReservationCommit(
                 follower_id=user, commit=pb.CommitReservationRequest(reservation_id="r", filled_quantity="1",
                                                                      fill_price=PRICE))]), metadata=md),
             lambda md: internal.ReleaseReservations(ipb.ReleaseReservationsRequest(releases=[
                 ipb.ReservationRelease(follower_id=user, release=pb.ReleaseReservationRequest(reservation_id="r"))]),
                 metadata=md)]
    for metadata in (token_for(user), token_for(user, "operator"), service_metadata):
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(metadata)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for size in (0, 5001):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(user, f"r{n}") for n in range(size)]),
                                         metadata=replication_metadata)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_second_fill_adds_to_the_position(risk, replication_metadata):
    internal, _ = risk
    user = f"u_{uuid.uuid4().hex[:8]}"
    for n, quantity in enumerate(("0.04", "0.04")):  # 2,400 twice: 4,800 of 5,000 held
        await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(user, f"r{n}", quantity)]),
                                     metadata=replication_metadata)
        await internal.CommitReservations(ipb.CommitReservationsRequest(commits=[ipb.ReservationCommit(
            follower_id=user, commit=pb.CommitReservationRequest(reservation_id=f"r{n}", filled_quantity=quantity,
                                                                 fill_price=PRICE))]), metadata=replication_metadata)
    # Committing again changes nothing (idempotent); the room left is 200 USDT.
    await internal.CommitReservations(ipb.CommitReservationsRequest(commits=[ipb.ReservationCommit(
        follower_id=user, commit=pb.CommitReservationRequest(reservation_id="r1", filled_quantity="0.04",
                                                             fill_price=PRICE))]), metadata=replication_metadata)
    last = await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(user, "r2", "0.01")]),
                                        metadata=replication_metadata)
    assert (last.decisions[0].decision, last.decisions[0].approved_quantity) == (pb.DECISION_REDUCED, "0.0033")


@pytest.mark.parametrize("backend", ["postgres"])
async def test_each_replica_sees_what_another_reserved(start_service, backend, replication_metadata):
    """Two risk servers on one database, each with its follower books in memory: a book is used
    only at the version the database holds, so neither can approve past what the other took."""
    a = RiskInternalServiceStub((await start_service("risk")).channel)
    b = RiskInternalServiceStub((await start_service("risk")).channel)
    user = f"u_{uuid.uuid4().hex[:8]}"

    async def reserve(stub, rid, quantity):
        reply = await stub.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(user, rid, quantity)]),
                                         metadata=replication_metadata)
        return reply.decisions[0].decision, reply.decisions[0].approved_quantity
    assert await reserve(a, "1", "0.04") == (pb.DECISION_APPROVED, "0.04")  # a holds the book now
    assert await reserve(b, "2", "0.04") == (pb.DECISION_APPROVED, "0.04")
    assert await reserve(a, "3", "0.04") == (pb.DECISION_REDUCED, "0.0033")  # a sees b's
    await b.ReleaseReservations(ipb.ReleaseReservationsRequest(releases=[ipb.ReservationRelease(
        follower_id=user, release=pb.ReleaseReservationRequest(reservation_id="2"))]), metadata=replication_metadata)
    assert await reserve(a, "4", "0.04") == (pb.DECISION_APPROVED, "0.04")  # and b's release
    await b.CommitReservations(ipb.CommitReservationsRequest(commits=[ipb.ReservationCommit(
        follower_id=user, commit=pb.CommitReservationRequest(reservation_id="1", filled_quantity="0.04",
                                                             fill_price=PRICE))]), metadata=replication_metadata)
    assert await reserve(a, "5", "0.01") == (pb.DECISION_DENIED, "0")  # 0.04 held + 0.0433 open


async def test_a_decision_says_what_it_measured_and_what_it_could_not_judge(risk, token_for, replication_metadata):
    """Sparse returns (one hour moved in 48) are not judged; the follower's snapshot equity
    stands in for an order that brings none, so leverage is judged in every sizing mode."""
    internal, public = risk
    user = f"u_{uuid.uuid4().hex[:10]}"
    sparse = order(user, f"{user}-sparse")
    sparse.intent.returns.append(pb.ReturnSeries(symbol="BTC/USDT", returns=[0.0] * 47 + [0.2],
                                                 periods_per_year=8760))
    [first] = (await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[sparse]),
                                            metadata=replication_metadata)).decisions
    assert first.decision == pb.DECISION_APPROVED  # a 20 % hour once in two days is no volatility figure
    assert dict(first.metadata) == {"volatility": "not judged", "volatility_observations": "1",
                                    "min_observations": "24", "leverage": "not judged: equity unknown"}
    await public.UpdateRiskLimits(pb.UpdateRiskLimitsRequest(
        user_id=user, limits=pb.RiskLimits(max_leverage="0.1"),
        update_mask=field_mask_pb2.FieldMask(paths=["max_leverage"])), metadata=token_for(user))
    await public.RecordAccountSnapshot(pb.RecordAccountSnapshotRequest(user_id=user, equity="12000"),
                                       metadata=token_for(user))
    # 0.01 BTC (600) is held; leverage 0.1 of 12,000 allows 1,200 in all: 0.01 more.
    [second] = (await internal.ReserveOrders(ipb.ReserveOrdersRequest(orders=[order(user, f"{user}-more", "0.05")]),
                                             metadata=replication_metadata)).decisions
    assert (second.decision, second.approved_quantity, second.refusal.reason) == (
        pb.DECISION_REDUCED, "0.01", "LEVERAGE_LIMIT_EXCEEDED")
    assert second.refusal.metadata["equity"] == "12000" and "leverage" not in second.metadata
