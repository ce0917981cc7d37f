"""ErrorRecoveryService over gRPC: thin. Followers see and act on their own error events and
sessions, operators on everyone's; every person's action is audited with compliance."""

from __future__ import annotations

from sqlalchemy import select

from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.replication.v1 import error_recovery_service_pb2 as pb
from copytrade.replication.v1 import error_recovery_service_pb2_grpc as pb_grpc
from services.kit import audit, auth, errors, paging
from services.kit.db import Database
from services.replication.accounts import DOMAIN
from services.replication import sessions
from services.replication.error_book import OPEN, ErrorBook, event_to_proto
from services.replication.reconcile import Reconciler, result_to_proto
from services.replication.retries import RetryProcessor
from services.replication.store import CopySessionRow, ErrorEventRow, FollowerOrderRow, ReconciliationResultRow
from services.replication.venues.base import ErrorKind, VenueError

KINDS = {pb.ERROR_TYPE_NETWORK: ErrorKind.NETWORK, pb.ERROR_TYPE_RATE_LIMIT: ErrorKind.RATE_LIMIT,
         pb.ERROR_TYPE_TIMEOUT: ErrorKind.TIMEOUT, pb.ERROR_TYPE_PLATFORM: ErrorKind.PLATFORM,
         pb.ERROR_TYPE_REJECTED: ErrorKind.REJECTED, pb.ERROR_TYPE_UNKNOWN_OUTCOME: ErrorKind.UNKNOWN_OUTCOME}


class ErrorRecoveryServicer(pb_grpc.ErrorRecoveryServiceServicer):
    def __init__(self, db: Database, book: ErrorBook, processor: RetryProcessor, reconciler: Reconciler,
                 audit: ComplianceInternalServiceStub) -> None:
        self.db, self.book, self.processor, self.reconciler, self.audit = db, book, processor, reconciler, audit

    async def _owned_event(self, error_id: str) -> ErrorEventRow:
        row = await self.book.get(error_id) if error_id else None
        if row is None or not auth.require_caller().may_act_for(row.follower_id):
            raise errors.not_found("ERROR_EVENT_NOT_FOUND", "no such error event", domain=DOMAIN, error_id=error_id)
        return row

    async def _owned_session(self, config_id: str) -> CopySessionRow:
        async with self.db.session() as session:
            row = await session.get(CopySessionRow, config_id) if config_id else None
        return sessions.owned(row, config_id)

    async def _audited(self, action: str, resource: str, subject_user_id: str, **details) -> None:
        await audit.record(self.audit, action, resource, subject_user_id, **details)

    async def LogError(self, request: pb.LogErrorRequest, context) -> pb.LogErrorResponse:
        kind = KINDS.get(request.error_type)
        if kind is None:
            raise errors.invalid_argument("INVALID_ERROR_TYPE", "error_type is required", domain=DOMAIN,
                                          field="error_type")
        async with self.db.session() as session:
            order = await session.get(FollowerOrderRow, request.order_id) if request.order_id else None
        if order is None or not auth.require_caller().may_act_for(order.follower_id):
            raise errors.not_found("ORDER_NOT_FOUND", "no such follower order", domain=DOMAIN,
                                   order_id=request.order_id)
        if request.retry_after_seconds < 0:
            raise errors.invalid_argument("INVALID_RETRY_AFTER", "retry_after_seconds must not be negative",
                                          domain=DOMAIN, field="retry_after_seconds")
        row = await self.book.record(order, request.venue_id, VenueError(
            kind, request.message or "logged by hand", float(request.retry_after_seconds) or None))
        await self._audited("error.logged", f"error_events/{row.error_id}", order.follower_id,
                            error_type=pb.ErrorType.Name(request.error_type), message=request.message)
        return pb.LogErrorResponse(event=event_to_proto(row))

    async def ListPendingRetries(self, request: pb.ListPendingRetriesRequest, context):
        caller = auth.require_caller()
        query = select(ErrorEventRow).where(ErrorEventRow.status.in_(OPEN))
        if request.follower_id or not caller.is_operator:
            follower_id = request.follower_id or caller.user_id
            auth.require_user(follower_id)
            query = query.where(ErrorEventRow.follower_id == follower_id)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, ErrorEventRow.error_id, request.page_size,
                                                   request.page_token)
        return pb.ListPendingRetriesResponse(events=[event_to_proto(r) for r in rows], next_page_token=token)

    async def ProcessRetry(self, request: pb.ProcessRetryRequest, context) -> pb.ProcessRetryResponse:
        row = await self._owned_event(request.error_id)
        settled = await self.processor.run_now(row)
        if settled is None:
            raise errors.failed_precondition(
                "ERROR_EVENT_NOT_RETRYABLE", f"the event is {pb.ErrorStatus.Name(row.status)}: only a pending or "
                "waiting event can be retried, and not while an attempt is running", domain=DOMAIN)
        await self._audited("error.retried", f"error_events/{row.error_id}", row.follower_id,
                            result=pb.ErrorStatus.Name(settled.status))
        return pb.ProcessRetryResponse(event=event_to_proto(settled))

    async def _close(self, error_id: str, status: int, comment: str, action: str) -> pb.ErrorEvent:
        row = await self._owned_event(error_id)
        closed = await self.book.close(row.error_id, status, comment)
        if closed is None:
            raise errors.failed_precondition(
                "ERROR_EVENT_CLOSED", f"the event is {pb.ErrorStatus.Name(row.status)}; only an open event "
                "(not one being retried right now) can be closed", domain=DOMAIN)
        await self._audited(action, f"error_events/{row.error_id}", row.follower_id, comment=comment)
        return event_to_proto(closed)

    async def CancelRetry(self, request: pb.CancelRetryRequest, context) -> pb.CancelRetryResponse:
        return pb.CancelRetryResponse(event=await self._close(request.error_id, pb.ERROR_STATUS_CANCELED,
                                                              request.comment, "error.canceled"))

    async def ResolveError(self, request: pb.ResolveErrorRequest, context) -> pb.ResolveErrorResponse:
        if not request.comment.strip():
            raise errors.invalid_argument("COMMENT_REQUIRED", "say how it was resolved", domain=DOMAIN,
                                          field="comment")
        return pb.ResolveErrorResponse(event=await self._close(request.error_id, pb.ERROR_STATUS_RESOLVED,
                                                               request.comment, "error.resolved"))

    async def ReconcileTrade(self, request: pb.ReconcileTradeRequest, context) -> pb.ReconcileTradeResponse:
        session = await self._owned_session(request.config_id)
        symbol = ""
        if request.order_id:
            async with self.db.session() as db_session:
                order = await db_session.get(FollowerOrderRow, request.order_id)
            if order is None or order.config_id != session.config_id:
                raise errors.not_found("ORDER_NOT_FOUND", "no such follower order in this session", domain=DOMAIN,
                                       order_id=request.order_id)
            symbol = order.symbol
        result = await self.reconciler.reconcile(session, symbol=symbol, dry_run=request.dry_run)
        if not request.dry_run:
            await self._audited("session.reconciled", f"copy_sessions/{session.config_id}", session.follower_id,
                                in_sync=result.in_sync, resolution=result.resolution)
        return pb.ReconcileTradeResponse(result=result_to_proto(result))

    async def ForceResync(self, request: pb.ForceResyncRequest, context) -> pb.ForceResyncResponse:
        session = await self._owned_session(request.config_id)
        result = await self.reconciler.reconcile(session, force_resync=True)
        await self._audited("session.resynced", f"copy_sessions/{session.config_id}", session.follower_id,
                            in_sync=result.in_sync, resolution=result.resolution)
        return pb.ForceResyncResponse(result=result_to_proto(result))

    async def ListReconciliationResults(self, request: pb.ListReconciliationResultsRequest, context):
        session = await self._owned_session(request.config_id)
        query = select(ReconciliationResultRow).where(ReconciliationResultRow.config_id == session.config_id)
        async with self.db.session() as db_session:  # result ids grow with time: newest first
            rows, token = await paging.keyset_page(db_session, query, ReconciliationResultRow.result_id,
                                                   request.page_size, request.page_token, descending=True)
        return pb.ListReconciliationResultsResponse(results=[result_to_proto(r) for r in rows], next_page_token=token)
