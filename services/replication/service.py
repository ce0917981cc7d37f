"""ReplicationService over gRPC: thin; rules live in the domain modules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from copytrade.replication.v1 import replication_service_pb2 as pb
from copytrade.replication.v1 import replication_service_pb2_grpc as pb_grpc
from copytrade.type.v1 import trading_pb2
from services.kit import auth, errors, paging
from services.kit.db import Database
from services.replication.accounts import DOMAIN, validate_new_account
from services.replication.store import VenueAccountRow


def account_to_proto(row: VenueAccountRow) -> pb.VenueAccount:
    account = pb.VenueAccount(
        account_id=row.account_id, user_id=row.user_id, role=row.role, credential_id=row.credential_id,
        label=row.label, watch_fills=row.watch_fills,
        venue=trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type))
    account.create_time.FromDatetime(row.create_time)
    return account


class ReplicationServicer(pb_grpc.ReplicationServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _owned_account(self, account_id: str) -> VenueAccountRow:
        async with self.db.session() as session:
            row = await session.get(VenueAccountRow, account_id)
        # Someone else's account reads as missing: its existence is not the caller's business.
        if row is None or not auth.require_caller().may_act_for(row.user_id):
            raise errors.not_found("ACCOUNT_NOT_FOUND", "no such venue account", domain=DOMAIN,
                                   account_id=account_id)
        return row

    async def CreateVenueAccount(self, request: pb.CreateVenueAccountRequest, context) -> pb.CreateVenueAccountResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        validate_new_account(request)
        async with self.db.session() as session:
            if request.request_id:  # a retried create returns what the first one made
                existing = (await session.execute(select(VenueAccountRow).where(
                    VenueAccountRow.user_id == user_id, VenueAccountRow.request_id == request.request_id))
                ).scalar_one_or_none()
                if existing is not None:
                    return pb.CreateVenueAccountResponse(account=account_to_proto(existing))
            row = VenueAccountRow(
                account_id=f"acc_{uuid.uuid4().hex[:20]}", user_id=user_id, role=request.role,
                venue_kind=request.venue.kind, venue_id=request.venue.id, market_type=request.venue.market_type,
                credential_id=request.credential_id, label=request.label.strip(), watch_fills=request.watch_fills,
                request_id=request.request_id or None, create_time=datetime.now(UTC))
            session.add(row)
        return pb.CreateVenueAccountResponse(account=account_to_proto(row))

    async def GetVenueAccount(self, request: pb.GetVenueAccountRequest, context) -> pb.GetVenueAccountResponse:
        return pb.GetVenueAccountResponse(account=account_to_proto(await self._owned_account(request.account_id)))

    async def ListVenueAccounts(self, request: pb.ListVenueAccountsRequest, context) -> pb.ListVenueAccountsResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        size = paging.page_size(request.page_size)
        after = paging.decode_token(request.page_token)
        query = select(VenueAccountRow).where(VenueAccountRow.user_id == user_id)
        if after:
            query = query.where(VenueAccountRow.account_id > str(after[0]))
        async with self.db.session() as session:
            rows = (await session.execute(query.order_by(VenueAccountRow.account_id).limit(size + 1))).scalars().all()
        response = pb.ListVenueAccountsResponse(accounts=[account_to_proto(r) for r in rows[:size]])
        if len(rows) > size:
            response.next_page_token = paging.encode_token([rows[size - 1].account_id])
        return response
