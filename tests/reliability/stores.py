"""The other stores' view of the copies at the venue: each (filled) order the venue holds must
have exactly one risk commit (checked in risk's own tables), exactly one filled event on the bus
(by Nats-Msg-Id, in the COPIES stream) and its one audit record (in compliance), and no placed
event or record beside it (a copy filled in full at once is announced by its filled event alone)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import nats
from nats.js import api
from sqlalchemy import select

from copytrade.compliance.v1 import compliance_service_pb2 as comp
from services.kit.bus import connect_options
from services.kit.db import Database
from services.risk.store import ReservationRow


@dataclass
class StoreCheck:
    orders: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.problems


async def _stream_msg_ids(url: str, subject: str, tls_files=None) -> Counter:
    client = await nats.connect(url, **connect_options(tls=tls_files))
    try:
        sub = await client.jetstream().pull_subscribe(subject, stream="COPIES", config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.NONE, inactive_threshold=10.0))
        ids: Counter = Counter()
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except TimeoutError:
                return ids
            ids.update((m.headers or {}).get("Nats-Msg-Id", "") for m in msgs)
    finally:
        await client.close()


async def _audited(compliance, operator, user: str) -> Counter:
    """(action, order id) → how many audit records compliance holds of it for the user."""
    seen: Counter = Counter()
    token = ""
    while True:
        reply = await compliance.ListAuditEvents(comp.ListAuditEventsRequest(
            user_id=user, action_prefix="copy.", page_size=500, page_token=token), metadata=operator)
        seen.update((e.action, e.resource.removeprefix("order:")) for e in reply.events)
        token = reply.next_page_token
        if not token:
            return seen


async def check_stores(nats_url: str, risk_db: Database, compliance, operator,
                       venue_orders: dict[str, list[str]], tls_files=None) -> StoreCheck:
    """venue_orders: follower user id → the client order ids of their (filled) orders at the venue;
    tls_files: the mesh's client certificate (mesh.client_tls)."""
    check = StoreCheck()
    for user, cids in venue_orders.items():
        check.orders += len(cids)
        async with risk_db.session() as session:
            committed = [r.reservation_id for r in (await session.execute(select(ReservationRow).where(
                ReservationRow.user_id == user, ReservationRow.status == "COMMITTED"))).scalars()]
        if len(committed) != len(cids):
            check.problems.append(f"{user}: {len(cids)} orders at the venue, {len(committed)} risk commits")
        for verb, expected in (("placed", 0), ("filled", 1)):
            ids = await _stream_msg_ids(nats_url, f"copies.order.{verb}.{user}", tls_files)
            for cid in cids:
                if ids[f"{cid}:{verb}"] != expected:
                    check.problems.append(f"{user}: {ids[f'{cid}:{verb}']} {verb} events of {cid}")
        audited = await _audited(compliance, operator, user)
        for cid in cids:
            for action, expected in (("copy.placed", 0), ("copy.filled", 1)):
                if audited[(action, cid)] != expected:
                    check.problems.append(f"{user}: {audited[(action, cid)]} {action} audit records of {cid}")
    return check
