"""ComplianceService over gRPC: thin; the rules live in identity.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal_pb
from copytrade.compliance.v1 import compliance_internal_service_pb2_grpc as internal_grpc
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1 import compliance_service_pb2_grpc as pb_grpc
from copytrade.type.v1 import trading_pb2
from services.compliance import eligibility, identity
from services.compliance.store import ConsentRow, CredentialRow, KycRow, UserRow, VaultKeyRow
from services.compliance.vault import Secret, Vault, derive_key, mask, new_salt
from services.kit import auth, errors
from services.kit.config import Settings
from services.kit.db import Database


def user_to_proto(row: UserRow) -> pb.User:
    user = pb.User(user_id=row.user_id, email=row.email, display_name=row.display_name,
                   roles=[identity.ROLE_VALUES[r] for r in row.roles])
    user.create_time.FromDatetime(row.create_time)
    return user


def _kyc_to_proto(row: KycRow) -> pb.KycVerification:
    kyc = pb.KycVerification(user_id=row.user_id, status=row.status, legal_name=row.legal_name, country=row.country,
                             document_type=row.document_type, decided_by=row.decided_by, comment=row.comment)
    kyc.submit_time.FromDatetime(row.submit_time)
    if row.decide_time is not None:
        kyc.decide_time.FromDatetime(row.decide_time)
    return kyc


def credential_to_proto(row: CredentialRow) -> pb.Credential:
    credential = pb.Credential(
        credential_id=row.credential_id, user_id=row.user_id, label=row.label, masked_api_key=row.masked_api_key,
        venue=trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type))
    credential.create_time.FromDatetime(row.create_time)
    credential.update_time.FromDatetime(row.update_time)
    return credential


async def open_vault(db: Database, master_key: str) -> Vault:
    """The vault keys for this database: salts stored, keys derived (slowly, off the loop)."""
    async with db.session() as session:
        rows = (await session.execute(select(VaultKeyRow).order_by(VaultKeyRow.create_time.desc()))).scalars().all()
        if not rows:
            rows = [VaultKeyRow(key_id=uuid.uuid4().hex[:16], salt=new_salt(), create_time=datetime.now(UTC))]
            session.add(rows[0])
    keys = [(row.key_id, await asyncio.to_thread(derive_key, master_key, row.salt)) for row in rows]
    return Vault(keys)


class ComplianceServicer(pb_grpc.ComplianceServiceServicer):
    def __init__(self, db: Database, settings: Settings, vault: Vault) -> None:
        self.db = db
        self.settings = settings
        self.vault = vault

    # --- KYC and consent -----------------------------------------------------------------
    async def SubmitKyc(self, request: pb.SubmitKycRequest, context) -> pb.SubmitKycResponse:
        auth.require_user(request.user_id)
        eligibility.validate_kyc(request)
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = await session.get(KycRow, request.user_id, with_for_update=True)
            if row is not None and row.status == pb.KYC_STATUS_APPROVED:
                raise errors.failed_precondition("KYC_ALREADY_APPROVED", "your identity is already verified",
                                                 domain=eligibility.DOMAIN)
            if row is None:
                row = KycRow(user_id=request.user_id)
                session.add(row)
            row.status, row.legal_name, row.country = pb.KYC_STATUS_PENDING, request.legal_name.strip(), request.country.upper()
            row.document_type = request.document_type.strip()
            row.document_number = self.vault.encrypt(Secret(request.document_number.strip(), ""))
            row.submit_time, row.decide_time, row.decided_by, row.comment = now, None, "", ""
        return pb.SubmitKycResponse(kyc=_kyc_to_proto(row))

    async def GetKyc(self, request: pb.GetKycRequest, context) -> pb.GetKycResponse:
        auth.require_user(request.user_id)
        async with self.db.session() as session:
            row = await session.get(KycRow, request.user_id)
        if row is None:
            return pb.GetKycResponse(kyc=pb.KycVerification(user_id=request.user_id,
                                                            status=pb.KYC_STATUS_NOT_SUBMITTED))
        return pb.GetKycResponse(kyc=_kyc_to_proto(row))

    async def DecideKyc(self, request: pb.DecideKycRequest, context) -> pb.DecideKycResponse:
        caller = auth.require_role(auth.ROLE_OPERATOR)
        async with self.db.session() as session:
            row = await session.get(KycRow, request.user_id, with_for_update=True)
            if row is None or row.status != pb.KYC_STATUS_PENDING:
                raise errors.failed_precondition("KYC_NOT_PENDING", "there is no pending verification to decide",
                                                 domain=eligibility.DOMAIN, user_id=request.user_id)
            row.status = pb.KYC_STATUS_APPROVED if request.approve else pb.KYC_STATUS_REJECTED
            row.decide_time, row.decided_by, row.comment = datetime.now(UTC), caller.subject, request.comment[:1000]
        return pb.DecideKycResponse(kyc=_kyc_to_proto(row))

    async def RecordConsent(self, request: pb.RecordConsentRequest, context) -> pb.RecordConsentResponse:
        auth.require_user(request.user_id)
        if request.document != eligibility.RISK_DISCLOSURE or not request.version:
            raise errors.invalid_argument("INVALID_CONSENT", f"document must be {eligibility.RISK_DISCLOSURE!r} "
                                          "with a version", domain=eligibility.DOMAIN, field="document")
        if request.version != eligibility.current_disclosure_version():
            raise errors.failed_precondition("CONSENT_VERSION_UNKNOWN", "that is not the current version",
                                             domain=eligibility.DOMAIN,
                                             current=eligibility.current_disclosure_version())
        async with self.db.session() as session:
            row = await session.get(ConsentRow, (request.user_id, request.document, request.version))
            if row is None:
                row = ConsentRow(user_id=request.user_id, document=request.document, version=request.version,
                                 accept_time=datetime.now(UTC))
                session.add(row)
        consent = pb.Consent(user_id=row.user_id, document=row.document, version=row.version)
        consent.accept_time.FromDatetime(row.accept_time)
        return pb.RecordConsentResponse(consent=consent)

    async def CheckCopyEligibility(self, request: pb.CheckCopyEligibilityRequest, context):
        auth.require_user(request.user_id)
        async with self.db.session() as session:
            kyc = await session.get(KycRow, request.user_id)
            versions = set((await session.execute(select(ConsentRow.version).where(
                ConsentRow.user_id == request.user_id, ConsentRow.document == eligibility.RISK_DISCLOSURE))
            ).scalars())
        refused = eligibility.refusal(kyc.status if kyc else None, versions, eligibility.current_disclosure_version())
        if refused is None:
            return pb.CheckCopyEligibilityResponse(eligible=True)
        return pb.CheckCopyEligibilityResponse(eligible=False, refusal=refused.to_refusal())

    async def StoreCredential(self, request: pb.StoreCredentialRequest, context) -> pb.StoreCredentialResponse:
        caller = auth.require_caller()
        user_id = request.user_id or caller.user_id
        auth.require_user(user_id)
        for field in ("api_key", "api_secret"):
            if not getattr(request, field).strip():
                raise errors.invalid_argument("INVALID_CREDENTIAL", f"{field} is required", domain=identity.DOMAIN,
                                              field=field)
        if not request.venue.id or request.venue.kind == trading_pb2.VENUE_KIND_UNSPECIFIED:
            raise errors.invalid_argument("INVALID_CREDENTIAL", "venue.kind and venue.id are required",
                                          domain=identity.DOMAIN, field="venue")
        now = datetime.now(UTC)
        async with self.db.session() as session:
            if request.request_id:
                existing = (await session.execute(select(CredentialRow).where(
                    CredentialRow.user_id == user_id, CredentialRow.request_id == request.request_id))
                ).scalar_one_or_none()
                if existing is not None:
                    return pb.StoreCredentialResponse(credential=credential_to_proto(existing))
            row = CredentialRow(
                credential_id=f"cred_{uuid.uuid4().hex[:20]}", user_id=user_id, venue_kind=request.venue.kind,
                venue_id=request.venue.id, market_type=request.venue.market_type, label=request.label.strip(),
                masked_api_key=mask(request.api_key),
                ciphertext=self.vault.encrypt(Secret(request.api_key, request.api_secret, request.passphrase)),
                request_id=request.request_id or None, create_time=now, update_time=now)
            session.add(row)
        return pb.StoreCredentialResponse(credential=credential_to_proto(row))

    async def ListCredentials(self, request: pb.ListCredentialsRequest, context) -> pb.ListCredentialsResponse:
        user_id = request.user_id or auth.require_caller().user_id
        auth.require_user(user_id)
        async with self.db.session() as session:
            rows = (await session.execute(select(CredentialRow).where(CredentialRow.user_id == user_id)
                                          .order_by(CredentialRow.create_time))).scalars().all()
        return pb.ListCredentialsResponse(credentials=[credential_to_proto(r) for r in rows])

    async def DeleteCredential(self, request: pb.DeleteCredentialRequest, context) -> pb.DeleteCredentialResponse:
        caller = auth.require_caller()
        async with self.db.session() as session:
            row = await session.get(CredentialRow, request.credential_id)
            if row is None or not caller.may_act_for(row.user_id):
                raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential", domain=identity.DOMAIN,
                                       credential_id=request.credential_id)
            await session.delete(row)
        return pb.DeleteCredentialResponse()

    async def RegisterUser(self, request: pb.RegisterUserRequest, context) -> pb.RegisterUserResponse:
        email = identity.normalise_email(request.email)
        identity.check_password_strength(request.password)
        roles = identity.self_assigned_roles(list(request.roles))
        if email in identity.bootstrap_operators():  # the first operators come from configuration
            roles = sorted({*roles, auth.ROLE_OPERATOR})
        password_hash = await asyncio.to_thread(identity.hash_password, request.password)  # ~50 ms of CPU
        row = UserRow(user_id=f"usr_{uuid.uuid4().hex[:20]}", email=email,
                      display_name=request.display_name.strip() or email.split("@")[0],
                      password_hash=password_hash, roles=roles, create_time=datetime.now(UTC))
        try:
            async with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            raise errors.already_exists("EMAIL_TAKEN", "an account with this email exists",
                                        domain=identity.DOMAIN, field="email") from None
        return pb.RegisterUserResponse(user=user_to_proto(row))

    async def Login(self, request: pb.LoginRequest, context) -> pb.LoginResponse:
        email = request.email.strip().lower()
        async with self.db.session() as session:
            row = (await session.execute(select(UserRow).where(UserRow.email == email))).scalar_one_or_none()
        stored = row.password_hash if row else identity.DUMMY_HASH
        matches = await asyncio.to_thread(identity.password_matches, stored, request.password)
        if row is None or not matches:
            raise errors.unauthenticated("INVALID_CREDENTIALS", "email or password is wrong", domain=identity.DOMAIN)
        token, expires = auth.issue_token(self.settings.jwt_secret, row.user_id, row.roles)
        response = pb.LoginResponse(access_token=token, user=user_to_proto(row))
        response.expire_time.FromSeconds(expires)
        return response

    async def GetUser(self, request: pb.GetUserRequest, context) -> pb.GetUserResponse:
        auth.require_user(request.user_id)
        async with self.db.session() as session:
            row = await session.get(UserRow, request.user_id)
        if row is None:
            raise errors.not_found("USER_NOT_FOUND", "no such user", domain=identity.DOMAIN, user_id=request.user_id)
        return pb.GetUserResponse(user=user_to_proto(row))


class ComplianceInternalServicer(internal_grpc.ComplianceInternalServiceServicer):
    """Calls only the mesh may make."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

    async def FetchCredential(self, request: internal_pb.FetchCredentialRequest, context):
        auth.require_service("replication")
        async with self.db.session() as session:
            row = await session.get(CredentialRow, request.credential_id)
        if row is None or (request.user_id and row.user_id != request.user_id):
            raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential for that user",
                                   domain=identity.DOMAIN, credential_id=request.credential_id)
        secret = self.vault.decrypt(row.ciphertext)
        return internal_pb.FetchCredentialResponse(
            venue=trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type),
            api_key=secret.api_key, api_secret=secret.api_secret, passphrase=secret.passphrase)
