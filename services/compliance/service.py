"""ComplianceService over gRPC: thin. Each call is authorised and its request checked here; the
rules and the tables live in identity.py (users), eligibility.py (KYC and consent),
credentials.py and keyring.py (the vault), privacy.py (erasure and export), audit.py and
checkpoints.py (the trail), reports.py and monitor.py. Every change a user or operator makes is
recorded in the audit trail in the same transaction as the change itself."""

from __future__ import annotations

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2_grpc as internal_grpc
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1 import compliance_service_pb2_grpc as pb_grpc
from services.compliance import anomaly, audit, credentials, eligibility, identity, privacy, reports
from services.compliance.audit import AuditTrail
from services.compliance.checkpoints import CheckpointLog, verify_chain
from services.compliance.keyring import Keyring
from services.compliance.monitor import Monitor, alert_to_proto, alerts_page
from services.compliance.throttle import LoginThrottle, account_policy, address_policy
from services.kit import auth, errors
from services.kit.config import Settings
from services.kit.db import Database


class ComplianceServicer(pb_grpc.ComplianceServiceServicer):
    def __init__(self, db: Database, settings: Settings, keyring: Keyring, trail: AuditTrail, monitor: Monitor,
                 trusted_proxies: list | None = None, *, checkpoints: CheckpointLog,
                 versions: auth.TokenVersions | None = None) -> None:
        self.db = db
        self.versions = versions  # this process's cache, told at once when a version moves
        self.throttle = LoginThrottle(db, account_policy(settings), address_policy(settings))
        self.checkpoints = checkpoints
        self.settings = settings
        self.keyring = keyring
        self.audit = trail
        self.monitor = monitor
        self.trusted_proxies = anomaly.trusted_proxies(settings.trusted_proxies) if trusted_proxies is None \
            else trusted_proxies

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
        eligibility.validate_consent(request, self.settings.risk_disclosure_version)
        row = await eligibility.record_consent(self.audit, caller.subject, request)
        return pb.RecordConsentResponse(consent=eligibility.consent_to_proto(row))

    async def CheckCopyEligibility(self, request: pb.CheckCopyEligibilityRequest, context):
        auth.require_user(request.user_id)
        refused = await eligibility.copy_refusal(self.db, request.user_id, self.settings.risk_disclosure_version)
        if refused is None:
            return pb.CheckCopyEligibilityResponse(eligible=True)
        return pb.CheckCopyEligibilityResponse(eligible=False, refusal=refused.to_refusal())

    # --- the credential vault ------------------------------------------------------------
    async def StoreCredential(self, request: pb.StoreCredentialRequest, context) -> pb.StoreCredentialResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        credentials.require_secret(request.api_key, request.api_secret)
        credentials.require_venue(request.venue)
        row = await credentials.store(self.audit, self.keyring, caller.subject, user_id, request)
        return pb.StoreCredentialResponse(credential=credentials.to_proto(row))

    async def ListCredentials(self, request: pb.ListCredentialsRequest, context) -> pb.ListCredentialsResponse:
        user_id = request.user_id or auth.require_caller().user_id
        auth.require_user(user_id)
        rows = await credentials.of_user(self.db, user_id)
        return pb.ListCredentialsResponse(credentials=[credentials.to_proto(r) for r in rows])

    async def UpdateCredentialSecret(self, request: pb.UpdateCredentialSecretRequest, context):
        caller = auth.require_caller()
        credentials.require_secret(request.api_key, request.api_secret)
        row = await credentials.replace_secret(self.audit, self.keyring, caller, request)
        return pb.UpdateCredentialSecretResponse(credential=credentials.to_proto(row))

    async def DeleteCredential(self, request: pb.DeleteCredentialRequest, context) -> pb.DeleteCredentialResponse:
        caller = auth.require_caller()
        await credentials.delete(self.audit, self.keyring, caller, request.credential_id)
        return pb.DeleteCredentialResponse()

    async def RotateEncryptionKey(self, request: pb.RotateEncryptionKeyRequest, context):
        caller = auth.require_role(auth.ROLE_OPERATOR)
        return pb.RotateEncryptionKeyResponse(records_reencrypted=await self.keyring.rotate_audited(
            self.audit, caller.subject))

    # --- users ---------------------------------------------------------------------------
    async def RegisterUser(self, request: pb.RegisterUserRequest, context) -> pb.RegisterUserResponse:
        email = identity.normalise_email(request.email)
        identity.check_password_strength(request.password, (email, email.split("@")[0], request.display_name))
        roles = identity.self_assigned_roles(list(request.roles))
        if email in self.settings.operator_emails:  # the first operators come from configuration
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
        revoked, shredded = await privacy.delete_user(self.audit, self.keyring, caller.subject, request.user_id)
        self._heard(revoked)
        return pb.DeleteUserResponse(credentials_shredded=shredded)

    async def ExportUserData(self, request: pb.ExportUserDataRequest, context) -> pb.ExportUserDataResponse:
        auth.require_caller()
        caller = auth.require_user(identity.required_user_id(request.user_id))
        content = await privacy.export_audited(self.db, self.audit, self.keyring, caller.subject, request.user_id)
        return pb.ExportUserDataResponse(content=content)

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
        checked, found = await verify_chain(self.audit, self.checkpoints, caller.subject)
        result = pb.VerifyAuditChainResponse(intact=found is None, records_checked=checked.records_checked,
                                             checkpoints_checked=checked.checkpoints_checked)
        if found is not None:
            result.first_bad_sequence, result.problem = found.sequence, found.problem
            result.explanation = found.explanation
        return result

    # --- reports and monitoring ----------------------------------------------------------
    async def ExportTradeReport(self, request: pb.ExportTradeReportRequest, context):
        caller = auth.require_caller()
        user_id = identity.required_user_id(request.user_id or caller.user_id)
        auth.require_user(user_id)
        start, end = reports.period(request)
        fmt = reports.report_format(request.format)
        content_type, content, count = await reports.export(self.db, self.audit, caller.subject, user_id, start,
                                                            end, fmt)
        return pb.ExportTradeReportResponse(content_type=content_type, content=content, trade_count=count)

    async def ListComplianceAlerts(self, request: pb.ListComplianceAlertsRequest, context):
        auth.require_role(auth.ROLE_OPERATOR)
        rows, token = await alerts_page(self.db, request.user_id, request.page_size, request.page_token)
        return pb.ListComplianceAlertsResponse(alerts=[alert_to_proto(r) for r in rows], next_page_token=token)


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
        row = await credentials.get(self.db, request.credential_id)
        credential = await credentials.hand_over(self.keyring, request, row)
        await credentials.record_fetched(self.audit, caller.subject, [row])
        return credential

    async def FetchCredentials(self, request: internal_pb.FetchCredentialsRequest, context):
        caller = auth.require_service("replication")
        credentials.require_fetchable(len(request.credentials))
        rows = await credentials.by_id(self.db, [r.credential_id for r in request.credentials])
        response, fetched = internal_pb.FetchCredentialsResponse(), []
        for wanted in request.credentials:
            result = response.results.add(credential_id=wanted.credential_id)
            try:  # each refused alone, as FetchCredential would refuse it
                result.credential.CopyFrom(await credentials.hand_over(self.keyring, wanted,
                                                                       rows.get(wanted.credential_id)))
            except errors.DomainError as refused:
                result.error_reason, result.error_message = refused.reason, refused.message
                continue
            fetched.append(rows[wanted.credential_id])
        await credentials.record_fetched(self.audit, caller.subject, fetched)  # as FetchCredential's, in one append
        return response

    async def VerifyCredentialOwner(self, request: internal_pb.VerifyCredentialOwnerRequest, context):
        auth.require_service()
        row = await credentials.get(self.db, request.credential_id)
        return internal_pb.VerifyCredentialOwnerResponse(
            owned=row is not None and bool(request.user_id) and row.user_id == request.user_id)

    async def RecordAuditEvent(self, request: internal_pb.RecordAuditEventRequest, context):
        caller = auth.require_service()
        row = await self.audit.record(audit.reported_entry(request, caller.subject))
        return internal_pb.RecordAuditEventResponse(sequence=row.sequence)

