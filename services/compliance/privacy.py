"""A user's rights over their data: erasure (DeleteUser) and a copy of it (ExportUserData).

Erasure removes the profile, password hash, identity verification (with its encrypted document
number), consents, login addresses and failed-login count, destroys the ciphertext of every
stored venue credential, and deletes the user's own data key, under which those secrets were
encrypted, so a copy of them kept anywhere else (a backup) cannot be read either. Kept, because
the platform must keep them: the audit trail (append-only; it never holds a secret, a password,
an email or a document number), trade records, and compliance alerts (with any address in them
erased).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from google.protobuf import json_format
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from copytrade.compliance.v1 import compliance_events_pb2 as events_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from services.compliance import audit, identity
from services.compliance.keyring import Keyring
from services.compliance.store import (AlertRow, AuditRow, ConsentRow, CredentialRow, KycRow, LoginAddressRow,
                                       LoginThrottleRow, UserKeyRow, UserRow)
from services.compliance.throttle import account_key
from services.compliance.vault import InvalidToken, mask
from services.kit.db import Database, aware

ERASED = "[erased]"
PERSONAL_ALERT_DETAILS = ("address",)
EXPORT_AUDIT_LIMIT = 10_000


async def delete_user(trail: audit.AuditTrail, keyring: Keyring, actor: str,
                      user_id: str) -> tuple[events_pb.UserTokensRevoked, int]:
    """Erase the user (USER_NOT_FOUND when nothing is held), audited, their tokens voided once
    it commits: (the revocation, credentials destroyed)."""
    async with trail.transaction() as tx:
        await keyring.lock(tx.session)
        held, shredded = await erase(tx.session, user_id)
        if not held:
            raise identity.no_such_user(user_id)
        revoked = identity.revoke_deleted(tx, user_id)
        tx.record(audit.Entry(actor, "user.deleted", f"user:{user_id}", user_id, {"credentials_shredded": shredded}))
    return revoked, shredded


async def export_audited(db: Database, trail: audit.AuditTrail, keyring: Keyring, actor: str, user_id: str) -> str:
    """`export` as JSON, audited; USER_NOT_FOUND when nothing is held."""
    document = await export(db, keyring, user_id)
    if document is None:
        raise identity.no_such_user(user_id)
    await trail.record(audit.Entry(actor, "user.data_exported", f"user:{user_id}", user_id))
    return to_json(document)


async def erase(session: AsyncSession, user_id: str) -> tuple[bool, int]:
    """(whether anything was held about the user, credentials destroyed)."""
    user = await session.get(UserRow, user_id, with_for_update=True)
    credential_ids = list((await session.execute(
        select(CredentialRow.credential_id).where(CredentialRow.user_id == user_id))).scalars())
    held = user is not None or bool(credential_ids)
    for table, column in ((KycRow, KycRow.user_id), (ConsentRow, ConsentRow.user_id),
                          (LoginAddressRow, LoginAddressRow.user_id)):
        held = (await session.execute(delete(table).where(column == user_id))).rowcount > 0 or held
    if user is not None:
        await session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.account == account_key(user.email)))
    # Crypto-shredding: without the user's own key no copy of their ciphertext opens again.
    shredded_key = (await session.execute(delete(UserKeyRow).where(UserKeyRow.user_id == user_id))).rowcount > 0
    held = held or shredded_key
    if credential_ids:
        await session.execute(delete(CredentialRow).where(CredentialRow.user_id == user_id))
    if user is not None:
        await session.delete(user)
    for alert in (await session.execute(select(AlertRow).where(AlertRow.user_id == user_id))).scalars():
        if any(key in (alert.details or {}) for key in PERSONAL_ALERT_DETAILS):
            alert.details = {k: ERASED if k in PERSONAL_ALERT_DETAILS else v for k, v in alert.details.items()}
    return held, len(credential_ids)


async def export(db: Database, keyring: Keyring, user_id: str) -> dict | None:
    """Everything held about the user, as a JSON-ready document; None when nothing is.
    (Compliance alerts are not included: telling someone they are under suspicion is not ours
    to do.)"""
    async with db.session() as session:
        document, kyc_token = await _gather(session, user_id)
    if document is not None and kyc_token is not None:  # decrypted outside the transaction
        document["kyc"]["document_number_masked"] = await _masked_document(keyring, kyc_token, user_id)
    return document


async def _gather(session: AsyncSession, user_id: str) -> tuple[dict | None, bytes | None]:
    user = await session.get(UserRow, user_id)
    kyc = await session.get(KycRow, user_id)
    consents = (await session.execute(select(ConsentRow).where(ConsentRow.user_id == user_id)
                                      .order_by(ConsentRow.accept_time))).scalars().all()
    credentials = (await session.execute(select(CredentialRow).where(CredentialRow.user_id == user_id)
                                         .order_by(CredentialRow.create_time))).scalars().all()
    addresses = (await session.execute(select(LoginAddressRow).where(LoginAddressRow.user_id == user_id)
                                       .order_by(LoginAddressRow.first_seen))).scalars().all()
    records = (await session.execute(select(AuditRow).where(
        or_(AuditRow.subject_user_id == user_id, AuditRow.actor == user_id))
        .order_by(AuditRow.sequence).limit(EXPORT_AUDIT_LIMIT))).scalars().all()
    if user is None and kyc is None and not consents and not credentials and not records:
        return None, None
    document: dict = {"user_id": user_id, "export_time": _iso(datetime.now(UTC))}
    if user is not None:
        document["profile"] = {"email": user.email, "display_name": user.display_name, "roles": list(user.roles),
                               "create_time": _iso(user.create_time)}
    if kyc is not None:
        document["kyc"] = {"status": pb.KycStatus.Name(kyc.status), "legal_name": kyc.legal_name,
                           "country": kyc.country, "document_type": kyc.document_type,
                           "document_number_masked": "",
                           "submit_time": _iso(kyc.submit_time),
                           "decide_time": _iso(kyc.decide_time) if kyc.decide_time else None,
                           "comment": kyc.comment}
    document["consents"] = [{"document": c.document, "version": c.version, "accept_time": _iso(c.accept_time)}
                            for c in consents]
    document["credentials"] = [
        {"credential_id": c.credential_id, "venue_id": c.venue_id, "label": c.label,
         "masked_api_key": c.masked_api_key, "create_time": _iso(c.create_time), "update_time": _iso(c.update_time)}
        for c in credentials]
    document["login_addresses"] = [{"address": a.address, "first_seen": _iso(a.first_seen),
                                    "last_seen": _iso(a.last_seen)} for a in addresses]
    document["audit_events"] = [json_format.MessageToDict(audit.to_proto(r), preserving_proto_field_name=True)
                                for r in records]
    return document, kyc.document_number if kyc is not None else None


def to_json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


async def _masked_document(keyring: Keyring, token: bytes, user_id: str) -> str:
    try:
        return mask((await keyring.decrypt(token, user_id)).api_key)
    except (InvalidToken, ValueError, KeyError):
        return "unavailable"


def _iso(moment: datetime) -> str:
    return aware(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")
