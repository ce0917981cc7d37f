"""Who may copy trade: approved KYC and acceptance of the current risk disclosure. The rules
are pure; the bottom half keeps the identity verifications and consents they are decided on,
each change recorded in the audit trail in its own transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance.audit import AuditTrail, Entry
from services.compliance.keyring import Keyring
from services.compliance.monitor import subject_token
from services.compliance.store import ConsentRow, KycRow
from services.compliance.vault import Secret
from services.kit import errors
from services.kit.db import Database

DOMAIN = "compliance.copytrade"
RISK_DISCLOSURE = "risk_disclosure"


def refusal(kyc_status: int | None, accepted_versions: set[str], current: str) -> errors.DomainError | None:
    """Why the user may not copy yet, or None when they may."""
    if kyc_status != pb.KYC_STATUS_APPROVED:
        status = pb.KycStatus.Name(kyc_status or pb.KYC_STATUS_NOT_SUBMITTED)
        message = {
            pb.KYC_STATUS_PENDING: "your identity verification is still being reviewed",
            pb.KYC_STATUS_REJECTED: "your identity verification was rejected; submit it again",
        }.get(kyc_status, "verify your identity before copying a trader")
        return errors.failed_precondition("KYC_NOT_APPROVED", message, domain=DOMAIN, kyc_status=status)
    if current not in accepted_versions:
        reason = "CONSENT_OUTDATED" if accepted_versions else "CONSENT_MISSING"
        return errors.failed_precondition(
            reason, f"accept the risk disclosure (version {current}) before copying a trader",
            domain=DOMAIN, document=RISK_DISCLOSURE, version=current)
    return None


def validate_kyc(request: pb.SubmitKycRequest) -> None:
    for field, limit in (("legal_name", 200), ("document_type", 40), ("document_number", 100)):
        value = getattr(request, field).strip()
        if not value or len(value) > limit:
            raise errors.invalid_argument("INVALID_KYC", f"{field} is required (at most {limit} characters)",
                                          domain=DOMAIN, field=field)
    if len(request.country) != 2 or not request.country.isalpha():
        raise errors.invalid_argument("INVALID_KYC", "country is an ISO 3166-1 alpha-2 code such as DE",
                                      domain=DOMAIN, field="country")


def validate_consent(request: pb.RecordConsentRequest, current: str) -> None:
    """current: the risk disclosure's version now (Settings.risk_disclosure_version)."""
    if request.document != RISK_DISCLOSURE or not request.version:
        raise errors.invalid_argument("INVALID_CONSENT", f"document must be {RISK_DISCLOSURE!r} with a version",
                                      domain=DOMAIN, field="document")
    if request.version != current:
        raise errors.failed_precondition("CONSENT_VERSION_UNKNOWN", "that is not the current version",
                                         domain=DOMAIN, current=current)


# --- the tables -----------------------------------------------------------------------------------
def kyc_to_proto(row: KycRow) -> pb.KycVerification:
    kyc = pb.KycVerification(user_id=row.user_id, status=row.status, legal_name=row.legal_name, country=row.country,
                             document_type=row.document_type, decided_by=row.decided_by, comment=row.comment)
    kyc.submit_time.FromDatetime(row.submit_time)
    if row.decide_time is not None:
        kyc.decide_time.FromDatetime(row.decide_time)
    return kyc


def consent_to_proto(row: ConsentRow) -> pb.Consent:
    consent = pb.Consent(user_id=row.user_id, document=row.document, version=row.version)
    consent.accept_time.FromDatetime(row.accept_time)
    return consent


async def submit_kyc(trail: AuditTrail, keyring: Keyring, actor: str, request: pb.SubmitKycRequest) -> KycRow:
    """The (validated) verification, pending, its document number under the user's own key;
    KYC_ALREADY_APPROVED once approved."""
    now = datetime.now(UTC)
    async with trail.transaction() as tx:
        session = tx.session
        vault = await keyring.user_writer(session, request.user_id)
        row = await session.get(KycRow, request.user_id, with_for_update=True)
        if row is not None and row.status == pb.KYC_STATUS_APPROVED:
            raise errors.failed_precondition("KYC_ALREADY_APPROVED", "your identity is already verified",
                                             domain=DOMAIN)
        if row is None:
            row = KycRow(user_id=request.user_id)
            session.add(row)
        row.status = pb.KYC_STATUS_PENDING
        row.legal_name, row.country = request.legal_name.strip(), request.country.upper()
        row.document_type = request.document_type.strip()
        row.document_number = vault.encrypt(Secret(request.document_number.strip(), ""))
        row.submit_time, row.decide_time, row.decided_by, row.comment = now, None, "", ""
        tx.record(Entry(actor, "kyc.submitted", f"kyc:{request.user_id}", request.user_id,
                        {"country": row.country, "document_type": row.document_type}))
    return row


async def get_kyc(db: Database, user_id: str) -> pb.KycVerification:
    async with db.session() as session:
        row = await session.get(KycRow, user_id)
    if row is None:
        return pb.KycVerification(user_id=user_id, status=pb.KYC_STATUS_NOT_SUBMITTED)
    return kyc_to_proto(row)


async def decide_kyc(trail: AuditTrail, actor: str, user_id: str, approve: bool,
                     comment: str) -> pb.KycVerification:
    """Approve or reject the pending verification (KYC_NOT_PENDING if none is), audited and
    announced."""
    async with trail.transaction() as tx:
        row = await tx.session.get(KycRow, user_id, with_for_update=True)
        if row is None or row.status != pb.KYC_STATUS_PENDING:
            raise errors.failed_precondition("KYC_NOT_PENDING", "there is no pending verification to decide",
                                             domain=DOMAIN, user_id=user_id)
        row.status = pb.KYC_STATUS_APPROVED if approve else pb.KYC_STATUS_REJECTED
        row.decide_time, row.decided_by, row.comment = datetime.now(UTC), actor, comment[:1000]
        kyc = kyc_to_proto(row)
        tx.record(Entry(actor, "kyc.approved" if approve else "kyc.rejected", f"kyc:{user_id}", user_id))
        tx.announce(f"compliance.kyc.decided.{subject_token(user_id)}", events_pb.KycDecided(kyc=kyc),
                    f"kyc:{user_id}:{int(row.decide_time.timestamp() * 1_000_000)}")
    return kyc


async def record_consent(trail: AuditTrail, actor: str, request: pb.RecordConsentRequest) -> ConsentRow:
    """The (validated) consent, recorded and audited the first time it is given."""
    async with trail.transaction() as tx:
        row = await tx.session.get(ConsentRow, (request.user_id, request.document, request.version))
        if row is None:
            row = ConsentRow(user_id=request.user_id, document=request.document, version=request.version,
                             accept_time=datetime.now(UTC))
            tx.session.add(row)
            tx.record(Entry(actor, "consent.recorded", f"consent:{request.document}",
                            request.user_id, {"document": request.document, "version": request.version}))
    return row


async def copy_refusal(db: Database, user_id: str, current: str) -> errors.DomainError | None:
    """Why `user_id` may not copy yet, from what is stored (current: the disclosure's version
    now), or None when they may."""
    async with db.session() as session:
        kyc = await session.get(KycRow, user_id)
        versions = set((await session.execute(select(ConsentRow.version).where(
            ConsentRow.user_id == user_id, ConsentRow.document == RISK_DISCLOSURE))).scalars())
    return refusal(kyc.status if kyc else None, versions, current)
