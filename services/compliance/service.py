"""ComplianceService over gRPC: thin; the rules live in identity.py, eligibility.py, audit.py,
keyring.py, privacy.py, reports.py and anomaly.py. Every change a user or operator makes here is
recorded in the audit trail in the same transaction as the change itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2_grpc as internal_grpc
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1 import compliance_service_pb2_grpc as pb_grpc
from copytrade.type.v1 import trading_pb2
from services.compliance import anomaly, audit, eligibility, identity, privacy, reports
from services.compliance.audit import AuditTrail, Entry
from services.compliance.checkpoints import CheckpointLog
from services.compliance.keyring import Keyring
from services.compliance.monitor import Monitor, alert_to_proto
from services.compliance.store import AlertRow, CredentialRow, TradeRow
from services.compliance.throttle import LoginThrottle
from services.compliance.vault import InvalidToken, Secret, mask
from services.kit import auth, errors, paging
from services.kit.config import Settings
from services.kit.db import Database

MAX_CREDENTIALS_PER_FETCH = 1000


def credential_to_proto(row: CredentialRow) -> pb.Credential:
    credential = pb.Credential(
        credential_id=row.credential_id, user_id=row.user_id, label=row.label, masked_api_key=row.masked_api_key,
        venue=trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type))
    credential.create_time.FromDatetime(row.create_time)
    credential.update_time.FromDatetime(row.update_time)
    return credential


def _venue(row: CredentialRow) -> dict:
    return {"venue_kind": trading_pb2.VenueKind.Name(row.venue_kind) if row.venue_kind in
            trading_pb2.VenueKind.values() else str(row.venue_kind), "venue_id": row.venue_id}


class ComplianceServicer(pb_grpc.ComplianceServiceServicer):
    def __init__(self, db: Database, settings: Settings, keyring: Keyring, trail: AuditTrail, monitor: Monitor,
                 trusted_proxies: list | None = None, *, checkpoints: CheckpointLog,
                 versions: auth.TokenVersions | None = None) -> None:
        self.db = db
        self.versions = versions  # this process's cache, told at once when a version moves
        self.throttle = LoginThrottle(db)
        self.checkpoints = checkpoints
        self.settings = settings
        self.keyring = keyring
        self.audit = trail
        self.monitor = monitor
        self.trusted_proxies = anomaly.trusted_proxies() if trusted_proxies is None else trusted_proxies

    # --- KYC and consent -----------------------------------------------------------------
    async def SubmitKyc(self, request: pb.SubmitKycRequest, context) -> pb.SubmitKycResponse:
        caller = auth.require_user(request.user_id)
        eligibility.validate_kyc(request)
        row = await eligibility.submit_kyc(self.audit, self.keyring, caller.subject, request)
        return pb.SubmitKycResponse(kyc=eligibility.kyc_to_proto(row))

    async def GetKyc(self, request: pb.GetKycRequest, context) -> pb.GetKycResponse:
        auth.require_user(request.user_id)
        return pb.GetKycResponse(kyc=await eligibility.get_kyc(self.db, request.user_id))

    async def DecideKyc(self, request: pb.DecideKycRequest, context) -> pb.DecideKycResponse:
        caller = auth.require_role(auth.ROLE_OPERATOR)
        kyc = await eligibility.decide_kyc(self.audit, caller.subject, request.user_id, request.approve,
                                           request.comment)
        return pb.DecideKycResponse(kyc=kyc)

    async def RecordConsent(self, request: pb.RecordConsentRequest, context) -> pb.RecordConsentResponse:
        caller = auth.require_user(request.user_id)
        eligibility.validate_consent(request)
        row = await eligibility.record_consent(self.audit, caller.subject, request)
        return pb.RecordConsentResponse(consent=eligibility.consent_to_proto(row))

    async def CheckCopyEligibility(self, request: pb.CheckCopyEligibilityRequest, context):
        auth.require_user(request.user_id)
        refused = await eligibility.copy_refusal(self.db, request.user_id)
        if refused is None:
            return pb.CheckCopyEligibilityResponse(eligible=True)
        return pb.CheckCopyEligibilityResponse(eligible=False, refusal=refused.to_refusal())

    # --- the credential vault ------------------------------------------------------------
    async def StoreCredential(self, request: pb.StoreCredentialRequest, context) -> pb.StoreCredentialResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        _require_secret(request.api_key, request.api_secret)
        if not request.venue.id or request.venue.kind == trading_pb2.VENUE_KIND_UNSPECIFIED:
            raise errors.invalid_argument("INVALID_CREDENTIAL", "venue.kind and venue.id are required",
                                          domain=identity.DOMAIN, field="venue")
        now = datetime.now(UTC)
        async with self.audit.transaction() as tx:
            session = tx.session
            if request.request_id:
                existing = (await session.execute(select(CredentialRow).where(
                    CredentialRow.user_id == user_id, CredentialRow.request_id == request.request_id))
                ).scalar_one_or_none()
                if existing is not None:
                    return pb.StoreCredentialResponse(credential=credential_to_proto(existing))
            vault = await self.keyring.user_writer(session, user_id)
            row = CredentialRow(
                credential_id=f"cred_{uuid.uuid4().hex[:20]}", user_id=user_id, venue_kind=request.venue.kind,
                venue_id=request.venue.id, market_type=request.venue.market_type, label=request.label.strip(),
                masked_api_key=mask(request.api_key),
                ciphertext=vault.encrypt(Secret(request.api_key, request.api_secret, request.passphrase)),
                request_id=request.request_id or None, create_time=now, update_time=now)
            session.add(row)
            tx.record(Entry(caller.subject, "credential.stored", f"credential:{row.credential_id}", user_id,
                            _venue(row)))
        return pb.StoreCredentialResponse(credential=credential_to_proto(row))

    async def ListCredentials(self, request: pb.ListCredentialsRequest, context) -> pb.ListCredentialsResponse:
        user_id = request.user_id or auth.require_caller().user_id
        auth.require_user(user_id)
        async with self.db.session() as session:
            rows = (await session.execute(select(CredentialRow).where(CredentialRow.user_id == user_id)
                                          .order_by(CredentialRow.create_time))).scalars().all()
        return pb.ListCredentialsResponse(credentials=[credential_to_proto(r) for r in rows])

    async def UpdateCredentialSecret(self, request: pb.UpdateCredentialSecretRequest, context):
        caller = auth.require_caller()
        _require_secret(request.api_key, request.api_secret)
        async with self.audit.transaction() as tx:
            await self.keyring.writer(tx.session)  # the vault lock before any row lock, as rotation takes them
            row = await tx.session.get(CredentialRow, request.credential_id, with_for_update=True)
            if row is None or not caller.may_act_for(row.user_id):
                raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential", domain=identity.DOMAIN,
                                       credential_id=request.credential_id)
            vault = await self.keyring.user_writer(tx.session, row.user_id)
            row.ciphertext = vault.encrypt(Secret(request.api_key, request.api_secret, request.passphrase))
            row.masked_api_key, row.update_time = mask(request.api_key), datetime.now(UTC)
            tx.record(Entry(caller.subject, "credential.secret_replaced", f"credential:{row.credential_id}",
                            row.user_id, _venue(row)))
        return pb.UpdateCredentialSecretResponse(credential=credential_to_proto(row))

    async def DeleteCredential(self, request: pb.DeleteCredentialRequest, context) -> pb.DeleteCredentialResponse:
        caller = auth.require_caller()
        async with self.audit.transaction() as tx:
            await self.keyring.lock(tx.session)
            row = await tx.session.get(CredentialRow, request.credential_id)
            if row is None or not caller.may_act_for(row.user_id):
                raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential", domain=identity.DOMAIN,
                                       credential_id=request.credential_id)
            await tx.session.delete(row)
            tx.record(Entry(caller.subject, "credential.deleted", f"credential:{row.credential_id}", row.user_id,
                            _venue(row)))
        return pb.DeleteCredentialResponse()

    async def RotateEncryptionKey(self, request: pb.RotateEncryptionKeyRequest, context):
        caller = auth.require_role(auth.ROLE_OPERATOR)
        async with self.audit.transaction() as tx:
            count, vault = await self.keyring.rotate(tx.session)
            tx.record(Entry(caller.subject, "vault.key_rotated", f"vault-key:{vault.current_key_id}", "",
                            {"records_reencrypted": count}))
        self.keyring.install(vault)
        return pb.RotateEncryptionKeyResponse(records_reencrypted=count)

    # --- users ---------------------------------------------------------------------------
    async def RegisterUser(self, request: pb.RegisterUserRequest, context) -> pb.RegisterUserResponse:
        email = identity.normalise_email(request.email)
        identity.check_password_strength(request.password, (email, email.split("@")[0], request.display_name))
        roles = identity.self_assigned_roles(list(request.roles))
        if email in identity.bootstrap_operators():  # the first operators come from configuration
            roles = sorted({*roles, auth.ROLE_OPERATOR})
        row = await identity.register(self.audit, email, request.password, request.display_name, roles)
        return pb.RegisterUserResponse(user=identity.user_to_proto(row))

    async def Login(self, request: pb.LoginRequest, context) -> pb.LoginResponse:
        email = request.email.strip().lower()[:320]
        address = anomaly.client_address(context.peer() if context else "", _forwarded_for(context),
                                         self.trusted_proxies)
        await self.throttle.attempt(email, address)  # before the password is looked at
        row = await identity.authenticate(self.db, self.audit, email, request.password)
        await self.throttle.succeeded(email, address)
        await identity.logged_in(self.audit, self.monitor, row, address)
        token, expires = auth.issue_token(self.settings.jwt_secret, row.user_id, row.roles,
                                          version=row.token_version)
        response = pb.LoginResponse(access_token=token, user=identity.user_to_proto(row))
        response.expire_time.FromSeconds(expires)
        return response

    async def Logout(self, request: pb.LogoutRequest, context) -> pb.LogoutResponse:
        caller = auth.require_caller()
        if not caller.user_id:
            raise errors.permission_denied("USER_REQUIRED", "only a user's session can be logged out",
                                           domain=identity.DOMAIN)
        self._heard(await identity.log_out(self.audit, caller.subject, caller.user_id))
        return pb.LogoutResponse()

    def _heard(self, revoked: events_pb.UserTokensRevoked) -> None:
        """This process refuses the old tokens at once; other processes hear it on the bus."""
        if self.versions is not None:
            self.versions.heard(revoked.user_id, revoked.token_version, revoked.deleted)

    async def GetUser(self, request: pb.GetUserRequest, context) -> pb.GetUserResponse:
        auth.require_user(request.user_id)
        return pb.GetUserResponse(user=identity.user_to_proto(await identity.get(self.db, request.user_id)))

    async def SetUserRoles(self, request: pb.SetUserRolesRequest, context) -> pb.SetUserRolesResponse:
        caller = auth.require_role(auth.ROLE_OPERATOR)
        roles = identity.roles_set(list(request.roles))
        row, revoked = await identity.set_roles(self.audit, caller.subject, request.user_id, roles)
        self._heard(revoked)
        return pb.SetUserRolesResponse(user=identity.user_to_proto(row))

    async def DeleteUser(self, request: pb.DeleteUserRequest, context) -> pb.DeleteUserResponse:
        auth.require_caller()
        caller = auth.require_user(identity.required_user_id(request.user_id))
        async with self.audit.transaction() as tx:
            await self.keyring.lock(tx.session)
            held, shredded = await privacy.erase(tx.session, request.user_id)
            if not held:
                raise identity.no_such_user(request.user_id)
            revoked = identity.revoke_deleted(tx, request.user_id)
            tx.record(Entry(caller.subject, "user.deleted", f"user:{request.user_id}", request.user_id,
                            {"credentials_shredded": shredded}))
        self._heard(revoked)
        return pb.DeleteUserResponse(credentials_shredded=shredded)

    async def ExportUserData(self, request: pb.ExportUserDataRequest, context) -> pb.ExportUserDataResponse:
        auth.require_caller()
        caller = auth.require_user(identity.required_user_id(request.user_id))
        document = await privacy.export(self.db, self.keyring, request.user_id)
        if document is None:
            raise identity.no_such_user(request.user_id)
        await self.audit.record(Entry(caller.subject, "user.data_exported", f"user:{request.user_id}",
                                      request.user_id))
        return pb.ExportUserDataResponse(content=privacy.to_json(document))

    # --- audit trail ---------------------------------------------------------------------
    async def ListAuditEvents(self, request: pb.ListAuditEventsRequest, context) -> pb.ListAuditEventsResponse:
        caller = auth.require_caller()
        user_id = request.user_id
        if not user_id and not (caller.is_operator or caller.is_service):
            user_id = caller.user_id  # a user's view is their own records
        if user_id:
            auth.require_user(user_id)
        audit.check_action_prefix(request.action_prefix)
        rows, token = await self.audit.page(user_id, request.action_prefix, request.page_size, request.page_token)
        return pb.ListAuditEventsResponse(events=[audit.to_proto(r) for r in rows], next_page_token=token)

    async def VerifyAuditChain(self, request: pb.VerifyAuditChainRequest, context):
        caller = auth.require_role(auth.ROLE_OPERATOR)
        signed, unverifiable = await self.checkpoints.read_all()  # before the head: each names a walked record
        checked = await self.audit.verify(signed)
        found = checked.with_unverifiable(unverifiable)
        result = pb.VerifyAuditChainResponse(intact=found is None, records_checked=checked.records_checked,
                                             checkpoints_checked=checked.checkpoints_checked)
        if found is not None:
            result.first_bad_sequence, result.problem = found.sequence, found.problem
            result.explanation = found.explanation
        await self.audit.record(Entry(caller.subject, "audit.verified", "audit-trail", "", {
            "intact": result.intact, "records_checked": result.records_checked,
            "checkpoints_checked": result.checkpoints_checked,
            **({"first_bad_sequence": found.sequence, "problem": found.problem, "explanation": found.explanation}
               if found else {})}))
        return result

    # --- reports and monitoring ----------------------------------------------------------
    async def ExportTradeReport(self, request: pb.ExportTradeReportRequest, context):
        caller = auth.require_caller()
        user_id = identity.required_user_id(request.user_id or caller.user_id)
        auth.require_user(user_id)
        start, end = reports.period(request)
        fmt = reports.report_format(request.format)
        async with self.db.session() as session:
            trades = (await session.execute(select(TradeRow).where(
                TradeRow.user_id == user_id, TradeRow.execute_time >= start, TradeRow.execute_time < end)
                .order_by(TradeRow.execute_time, TradeRow.trade_id).limit(reports.MAX_TRADES + 1))).scalars().all()
        if len(trades) > reports.MAX_TRADES:
            raise errors.invalid_argument("PERIOD_TOO_LONG", f"the period holds more than {reports.MAX_TRADES} "
                                          "trades; ask for a shorter one", domain=identity.DOMAIN,
                                          field="end_time", max_trades=reports.MAX_TRADES)
        content_type, content = reports.render(fmt, user_id, start, end, trades)
        await self.audit.record(Entry(caller.subject, "trade_report.exported", f"user:{user_id}", user_id, {
            "start_time": start.isoformat(), "end_time": end.isoformat(), "format": pb.ReportFormat.Name(fmt),
            "trade_count": len(trades)}))
        return pb.ExportTradeReportResponse(content_type=content_type, content=content, trade_count=len(trades))

    async def ListComplianceAlerts(self, request: pb.ListComplianceAlertsRequest, context):
        auth.require_role(auth.ROLE_OPERATOR)
        query = select(AlertRow)
        if request.user_id:
            query = query.where(AlertRow.user_id == request.user_id)
        async with self.db.session() as session:
            rows, token = await paging.keyset_page(session, query, AlertRow.alert_id, request.page_size,
                                                   request.page_token, descending=True)
        return pb.ListComplianceAlertsResponse(alerts=[alert_to_proto(r) for r in rows], next_page_token=token)


def _require_secret(api_key: str, api_secret: str) -> None:
    for field, value in (("api_key", api_key), ("api_secret", api_secret)):
        if not value.strip():
            raise errors.invalid_argument("INVALID_CREDENTIAL", f"{field} is required", domain=identity.DOMAIN,
                                          field=field)


def _forwarded_for(context) -> str:
    for key, value in (context.invocation_metadata() if context else None) or ():
        if key == "x-forwarded-for" and isinstance(value, str):
            return value
    return ""


class ComplianceInternalServicer(internal_grpc.ComplianceInternalServiceServicer):
    """Calls only the mesh may make."""

    def __init__(self, db: Database, keyring: Keyring, trail: AuditTrail) -> None:
        self.db = db
        self.keyring = keyring
        self.audit = trail

    async def FetchCredential(self, request: internal_pb.FetchCredentialRequest, context):
        caller = auth.require_service("replication")
        async with self.db.session() as session:
            row = await session.get(CredentialRow, request.credential_id)
        credential = await self._hand_over(request, row)
        await self.audit.record(Entry(caller.subject, "credential.fetched", f"credential:{row.credential_id}",
                                      row.user_id))
        return credential

    async def FetchCredentials(self, request: internal_pb.FetchCredentialsRequest, context):
        caller = auth.require_service("replication")
        if len(request.credentials) > MAX_CREDENTIALS_PER_FETCH:
            raise errors.invalid_argument("TOO_MANY_CREDENTIALS", f"at most {MAX_CREDENTIALS_PER_FETCH} credentials "
                                          "per call", domain=identity.DOMAIN, field="credentials")
        ids = list({r.credential_id for r in request.credentials if r.credential_id})
        async with self.db.session() as session:
            rows = {row.credential_id: row for row in (await session.execute(
                select(CredentialRow).where(CredentialRow.credential_id.in_(ids)))).scalars()} if ids else {}
        response, fetched = internal_pb.FetchCredentialsResponse(), []
        for wanted in request.credentials:
            result = response.results.add(credential_id=wanted.credential_id)
            try:  # each refused alone, as FetchCredential would refuse it
                result.credential.CopyFrom(await self._hand_over(wanted, rows.get(wanted.credential_id)))
            except errors.DomainError as refused:
                result.error_reason, result.error_message = refused.reason, refused.message
                continue
            fetched.append(rows[wanted.credential_id])
        if fetched:  # every hand-over audited, as FetchCredential's, in one append
            async with self.audit.transaction() as tx:
                for row in fetched:
                    tx.record(Entry(caller.subject, "credential.fetched", f"credential:{row.credential_id}",
                                    row.user_id))
        return response

    async def _hand_over(self, wanted: internal_pb.FetchCredentialRequest,
                         row: CredentialRow | None) -> internal_pb.FetchCredentialResponse:
        """The decrypted credential, when it is the named user's (NOT_FOUND otherwise) and opens
        under the keys held (FAILED_PRECONDITION otherwise)."""
        if row is None or (wanted.user_id and row.user_id != wanted.user_id):
            raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential for that user",
                                   domain=identity.DOMAIN, credential_id=wanted.credential_id)
        try:
            secret = await self.keyring.decrypt(row.ciphertext, row.user_id)
        except InvalidToken:
            raise errors.failed_precondition("CREDENTIAL_UNREADABLE", "the credential cannot be decrypted with the "
                                             "configured master key", domain=identity.DOMAIN,
                                             credential_id=wanted.credential_id) from None
        return internal_pb.FetchCredentialResponse(
            venue=trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type),
            api_key=secret.api_key, api_secret=secret.api_secret, passphrase=secret.passphrase)

    async def VerifyCredentialOwner(self, request: internal_pb.VerifyCredentialOwnerRequest, context):
        auth.require_service()
        async with self.db.session() as session:
            row = await session.get(CredentialRow, request.credential_id) if request.credential_id else None
        return internal_pb.VerifyCredentialOwnerResponse(
            owned=row is not None and bool(request.user_id) and row.user_id == request.user_id)

    async def RecordAuditEvent(self, request: internal_pb.RecordAuditEventRequest, context):
        caller = auth.require_service()
        row = await self.audit.record(audit.reported_entry(request, caller.subject))
        return internal_pb.RecordAuditEventResponse(sequence=row.sequence)

