"""The credential vault's records: users' venue credentials, stored encrypted under the user's
own data key (keyring.py), listed masked, replaced, deleted, and handed over decrypted to
replication alone. Each change is recorded in the audit trail in its own transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal_pb
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.compliance.audit import AuditTrail, Entry
from services.compliance.identity import DOMAIN
from services.compliance.keyring import Keyring
from services.compliance.store import CredentialRow
from services.compliance.vault import InvalidToken, Secret, mask
from services.kit import auth, errors
from services.kit.db import Database

MAX_PER_FETCH = 1000


def to_proto(row: CredentialRow) -> pb.Credential:
    credential = pb.Credential(
        credential_id=row.credential_id, user_id=row.user_id, label=row.label, masked_api_key=row.masked_api_key,
        venue=_venue_proto(row))
    credential.create_time.FromDatetime(row.create_time)
    credential.update_time.FromDatetime(row.update_time)
    return credential


def _venue_proto(row: CredentialRow) -> trading_pb2.Venue:
    return trading_pb2.Venue(kind=row.venue_kind, id=row.venue_id, market_type=row.market_type)


def _venue(row: CredentialRow) -> dict:
    """The credential's venue as its audit records name it."""
    return {"venue_kind": trading_pb2.VenueKind.Name(row.venue_kind) if row.venue_kind in
            trading_pb2.VenueKind.values() else str(row.venue_kind), "venue_id": row.venue_id}


def require_secret(api_key: str, api_secret: str) -> None:
    for field, value in (("api_key", api_key), ("api_secret", api_secret)):
        if not value.strip():
            raise errors.invalid_argument("INVALID_CREDENTIAL", f"{field} is required", domain=DOMAIN, field=field)


def require_venue(venue: trading_pb2.Venue) -> None:
    if not venue.id or venue.kind == trading_pb2.VENUE_KIND_UNSPECIFIED:
        raise errors.invalid_argument("INVALID_CREDENTIAL", "venue.kind and venue.id are required",
                                      domain=DOMAIN, field="venue")


def require_fetchable(count: int) -> None:
    if count > MAX_PER_FETCH:
        raise errors.invalid_argument("TOO_MANY_CREDENTIALS", f"at most {MAX_PER_FETCH} credentials per call",
                                      domain=DOMAIN, field="credentials")


def _yours(row: CredentialRow | None, caller: auth.Caller, credential_id: str) -> CredentialRow:
    """`row`, if the caller may act for its user; CREDENTIAL_NOT_FOUND (not telling whose it is) otherwise."""
    if row is None or not caller.may_act_for(row.user_id):
        raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential", domain=DOMAIN,
                               credential_id=credential_id)
    return row


async def store(trail: AuditTrail, keyring: Keyring, actor: str, user_id: str,
                request: pb.StoreCredentialRequest) -> CredentialRow:
    """The (validated) credential, stored for `user_id`; the one stored before under the same
    request id, if any."""
    now = datetime.now(UTC)
    async with trail.transaction() as tx:
        session = tx.session
        if request.request_id:
            existing = (await session.execute(select(CredentialRow).where(
                CredentialRow.user_id == user_id, CredentialRow.request_id == request.request_id))
            ).scalar_one_or_none()
            if existing is not None:
                return existing
        vault = await keyring.user_writer(session, user_id)
        row = CredentialRow(
            credential_id=f"cred_{uuid.uuid4().hex[:20]}", user_id=user_id, venue_kind=request.venue.kind,
            venue_id=request.venue.id, market_type=request.venue.market_type, label=request.label.strip(),
            masked_api_key=mask(request.api_key),
            ciphertext=vault.encrypt(Secret(request.api_key, request.api_secret, request.passphrase)),
            request_id=request.request_id or None, create_time=now, update_time=now)
        session.add(row)
        tx.record(Entry(actor, "credential.stored", f"credential:{row.credential_id}", user_id, _venue(row)))
    return row


async def of_user(db: Database, user_id: str) -> list[CredentialRow]:
    """The user's credentials, oldest first."""
    async with db.session() as session:
        return list((await session.execute(select(CredentialRow).where(CredentialRow.user_id == user_id)
                                           .order_by(CredentialRow.create_time))).scalars().all())


async def replace_secret(trail: AuditTrail, keyring: Keyring, caller: auth.Caller,
                         request: pb.UpdateCredentialSecretRequest) -> CredentialRow:
    async with trail.transaction() as tx:
        await keyring.writer(tx.session)  # the vault lock before any row lock, as rotation takes them
        row = _yours(await tx.session.get(CredentialRow, request.credential_id, with_for_update=True), caller,
                     request.credential_id)
        vault = await keyring.user_writer(tx.session, row.user_id)
        row.ciphertext = vault.encrypt(Secret(request.api_key, request.api_secret, request.passphrase))
        row.masked_api_key, row.update_time = mask(request.api_key), datetime.now(UTC)
        tx.record(Entry(caller.subject, "credential.secret_replaced", f"credential:{row.credential_id}",
                        row.user_id, _venue(row)))
    return row


async def delete(trail: AuditTrail, keyring: Keyring, caller: auth.Caller, credential_id: str) -> None:
    async with trail.transaction() as tx:
        await keyring.lock(tx.session)
        row = _yours(await tx.session.get(CredentialRow, credential_id), caller, credential_id)
        await tx.session.delete(row)
        tx.record(Entry(caller.subject, "credential.deleted", f"credential:{row.credential_id}", row.user_id,
                        _venue(row)))


async def get(db: Database, credential_id: str) -> CredentialRow | None:
    if not credential_id:
        return None
    async with db.session() as session:
        return await session.get(CredentialRow, credential_id)


async def by_id(db: Database, credential_ids: list[str]) -> dict[str, CredentialRow]:
    """{credential id: row} for those of `credential_ids` that exist, in one read."""
    ids = list({i for i in credential_ids if i})
    if not ids:
        return {}
    async with db.session() as session:
        return {row.credential_id: row for row in (await session.execute(
            select(CredentialRow).where(CredentialRow.credential_id.in_(ids)))).scalars()}


async def hand_over(keyring: Keyring, wanted: internal_pb.FetchCredentialRequest,
                    row: CredentialRow | None) -> internal_pb.FetchCredentialResponse:
    """The decrypted credential, when it is the named user's (NOT_FOUND otherwise) and opens
    under the keys held (FAILED_PRECONDITION otherwise)."""
    if row is None or (wanted.user_id and row.user_id != wanted.user_id):
        raise errors.not_found("CREDENTIAL_NOT_FOUND", "no such credential for that user",
                               domain=DOMAIN, credential_id=wanted.credential_id)
    try:
        secret = await keyring.decrypt(row.ciphertext, row.user_id)
    except InvalidToken:
        raise errors.failed_precondition("CREDENTIAL_UNREADABLE", "the credential cannot be decrypted with the "
                                         "configured master key", domain=DOMAIN,
                                         credential_id=wanted.credential_id) from None
    return internal_pb.FetchCredentialResponse(venue=_venue_proto(row), api_key=secret.api_key,
                                               api_secret=secret.api_secret, passphrase=secret.passphrase)


async def record_fetched(trail: AuditTrail, actor: str, rows: list[CredentialRow]) -> None:
    """Every hand-over audited, in one append."""
    if not rows:
        return
    async with trail.transaction() as tx:
        for row in rows:
            tx.record(Entry(actor, "credential.fetched", f"credential:{row.credential_id}", row.user_id))
