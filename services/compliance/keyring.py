"""The vault's keys over time: which keys this replica holds, following rotations made by any
replica, and rotation itself.

A vault key is PBKDF2(MASTER_KEY, salt) for a salt stored in `vault_keys`; the newest salt under
the current MASTER_KEY encrypts, every stored salt under MASTER_KEY and MASTER_KEY_PREVIOUS
decrypts. To change the master key: set MASTER_KEY to the new one and MASTER_KEY_PREVIOUS to the
old, restart, call RotateEncryptionKey (every secret is re-encrypted under a fresh salt and the
new master key, and the old salts are deleted), then drop MASTER_KEY_PREVIOUS. Rotating without
changing MASTER_KEY retires the old data key all the same.

Everything that encrypts takes the vault lock in its transaction (`writer`), so a rotation
never misses a secret written while it runs, and nothing is written under a key it retired.

Each user's secrets (venue credentials, identity document) are encrypted under a data key of
their own (`user_keys`, random, sealed by the vault like the audit key); a rotation re-seals those
keys rather than every secret. Erasure deletes the user's key, so any copy of their ciphertext
left anywhere (a backup, a replica, a restored row) stays unreadable for good: crypto-shredding.
Secrets written before user keys existed stay under the vault key until rewritten.

The keyring also holds the audit chain's HMAC key (`audit_key`): random, made once at the first
start, sealed by the vault in `audit_keys` and re-sealed by every rotation like a secret, so the
chain keeps verifying after MASTER_KEY changes. Whoever can read the database alone cannot
re-sign a record.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.compliance import audit, identity
from services.compliance.store import AuditHeadRow, AuditKeyRow, CredentialRow, KycRow, UserKeyRow, VaultKeyRow
from services.compliance.vault import InvalidToken, Secret, UserVault, Vault, derive_key, is_user_keyed, new_salt
from services.kit import errors
from services.kit.db import Database

VAULT_LOCK = "compliance.vault"


class Keyring:
    def __init__(self, db: Database, master_key: str, previous_master_key: str = "") -> None:
        self.db = db
        self.masters = [master_key] + ([previous_master_key] if previous_master_key not in ("", master_key) else [])
        self.vault: Vault | None = None
        self.audit_key: audit.ChainKey | None = None

    async def open(self) -> Vault:
        async with self.db.session() as session:
            await self.db.serialise(session, VAULT_LOCK)  # replicas starting together make one salt
            rows = await _rows(session)
            if not rows:
                rows = [VaultKeyRow(key_id=_key_id(), salt=new_salt(), create_time=datetime.now(UTC))]
                session.add(rows[0])
        self.vault = await self._derive(rows)
        self.audit_key = await self._open_audit_key()
        return self.vault

    async def _open_audit_key(self) -> audit.ChainKey:
        async with self.db.session() as session:
            await self.db.serialise(session, VAULT_LOCK)  # replicas starting together make one key
            row = await session.scalar(select(AuditKeyRow).order_by(AuditKeyRow.create_time).limit(1))
            if row is None:
                # It signs from the next record on; the chain's head row is locked meanwhile, so no
                # record lands between reading the head and the key taking effect.
                head = await session.get(AuditHeadRow, audit.CHAIN, with_for_update=True)
                key = audit.ChainKey(_key_id(), os.urandom(32), head.sequence + 1)
                session.add(AuditKeyRow(key_id=key.key_id, sealed=self.vault.seal(key.to_bytes()),
                                        create_time=datetime.now(UTC)))
                return key
        try:
            return audit.ChainKey.from_bytes(self.vault.unseal(row.sealed))
        except InvalidToken:
            raise RuntimeError("the audit chain's key cannot be opened with MASTER_KEY (or MASTER_KEY_PREVIOUS)"
                               ) from None

    async def lock(self, session: AsyncSession) -> None:
        """Hold the vault lock until `session`'s transaction ends (for deleting secrets, so a
        rotation never races a deletion)."""
        await self.db.serialise(session, VAULT_LOCK)

    async def writer(self, session: AsyncSession) -> Vault:
        """The vault to encrypt with in `session`'s transaction. Holds the vault lock until that
        transaction ends, and picks up a rotation another replica committed meanwhile."""
        await self.db.serialise(session, VAULT_LOCK)
        newest = await session.scalar(select(VaultKeyRow.key_id).order_by(VaultKeyRow.create_time.desc()).limit(1))
        if newest != self.vault.current_key_id:
            self.vault = await self._derive(await _rows(session))
        return self.vault

    async def user_writer(self, session: AsyncSession, user_id: str) -> UserVault:
        """The user's own data key to encrypt their secrets with in `session`'s transaction (made
        on first use), under the vault lock as `writer`."""
        vault = await self.writer(session)
        row = await session.get(UserKeyRow, user_id)
        if row is None:
            key = UserVault.new_key()
            session.add(UserKeyRow(user_id=user_id, sealed=vault.seal(key), create_time=datetime.now(UTC)))
            return UserVault(key)
        return UserVault(vault.unseal(row.sealed))

    async def decrypt(self, token: bytes, user_id: str = "") -> Secret:
        """Decrypt a vault token, or `user_id`'s own (InvalidToken once their key is shredded); if
        no key held opens it and another replica has rotated since, follow and retry."""
        if is_user_keyed(token):
            async with self.db.session() as session:
                row = await session.get(UserKeyRow, user_id) if user_id else None
            if row is None:
                raise InvalidToken
            return UserVault(await self._open(row.sealed)).decrypt(token)
        return await self._open(token, secret=True)

    async def _open(self, token: bytes, *, secret: bool = False):
        opener = self.vault.decrypt if secret else self.vault.unseal
        try:
            return opener(token)
        except InvalidToken:
            async with self.db.session() as session:
                rows = await _rows(session)
            if not rows or rows[0].key_id == self.vault.current_key_id:
                raise
            self.vault = await self._derive(rows)
            return (self.vault.decrypt if secret else self.vault.unseal)(token)

    async def rotate(self, session: AsyncSession) -> tuple[int, Vault]:
        """Re-encrypt every stored secret under a fresh key in `session`'s transaction and delete
        the old salts. Returns the count and the vault to `install` once the transaction commits.
        All or nothing: a secret no held key opens stops it before anything changes."""
        await self.db.serialise(session, VAULT_LOCK)
        salt, key_id = new_salt(), _key_id()
        fresh = await asyncio.to_thread(derive_key, self.masters[0], salt)
        held = await self._derive(await _rows(session))  # every key that may have written a record
        rotator = Vault([(key_id, fresh), *held.keys])
        every_credential = (await session.execute(select(CredentialRow.credential_id, CredentialRow.user_id,
                                                         CredentialRow.ciphertext))).all()
        every_document = (await session.execute(select(KycRow.user_id, KycRow.user_id, KycRow.document_number))).all()
        user_keys = (await session.execute(select(UserKeyRow.user_id, UserKeyRow.sealed))).all()
        # Secrets under a user's key move with it (re-sealed below); those whose key was shredded
        # are nobody's to read and do not hold a rotation up.
        keyed_users = {user_id for user_id, _ in user_keys}
        covered = sum(1 for _, owner, token in [*every_credential, *every_document]
                      if is_user_keyed(token) and owner in keyed_users)
        credentials = [(cid, token) for cid, _, token in every_credential if not is_user_keyed(token)]
        documents = [(uid, token) for uid, _, token in every_document if not is_user_keyed(token)]
        audit_keys = (await session.execute(select(AuditKeyRow.key_id, AuditKeyRow.sealed))).all()
        rotated, unreadable = await asyncio.to_thread(_reencrypt, rotator,
                                                      [*credentials, *documents, *audit_keys, *user_keys])
        if unreadable:
            raise errors.failed_precondition(
                "VAULT_KEY_MISSING", f"{unreadable} stored secrets cannot be decrypted with MASTER_KEY or "
                "MASTER_KEY_PREVIOUS; nothing was changed", domain=identity.DOMAIN, unreadable=unreadable)
        if credentials:
            await session.execute(update(CredentialRow), [
                {"credential_id": cid, "ciphertext": rotated[i]} for i, (cid, _) in enumerate(credentials)])
        if documents:
            offset = len(credentials)
            await session.execute(update(KycRow), [
                {"user_id": uid, "document_number": rotated[offset + i]} for i, (uid, _) in enumerate(documents)])
        if audit_keys:
            offset = len(credentials) + len(documents)
            await session.execute(update(AuditKeyRow), [
                {"key_id": kid, "sealed": rotated[offset + i]} for i, (kid, _) in enumerate(audit_keys)])
        if user_keys:
            offset = len(credentials) + len(documents) + len(audit_keys)
            await session.execute(update(UserKeyRow), [
                {"user_id": uid, "sealed": rotated[offset + i]} for i, (uid, _) in enumerate(user_keys)])
        await session.execute(delete(VaultKeyRow))
        session.add(VaultKeyRow(key_id=key_id, salt=salt, create_time=datetime.now(UTC)))
        return len(credentials) + len(documents) + covered, Vault([(key_id, fresh)])

    async def rotate_audited(self, trail: audit.AuditTrail, actor: str) -> int:
        """`rotate` in a transaction of its own, audited; the new vault is installed once it commits."""
        async with trail.transaction() as tx:
            count, vault = await self.rotate(tx.session)
            tx.record(audit.Entry(actor, "vault.key_rotated", f"vault-key:{vault.current_key_id}", "",
                                  {"records_reencrypted": count}))
        self.install(vault)
        return count

    def install(self, vault: Vault) -> None:
        self.vault = vault

    async def _derive(self, rows: list[VaultKeyRow]) -> Vault:
        keys = [(row.key_id, await asyncio.to_thread(derive_key, master, row.salt))  # slow on purpose: off the loop
                for row in rows for master in self.masters]
        return Vault(keys)


async def _rows(session: AsyncSession) -> list[VaultKeyRow]:
    return list((await session.execute(select(VaultKeyRow).order_by(VaultKeyRow.create_time.desc()))).scalars())


def _key_id() -> str:
    return uuid.uuid4().hex[:16]


def _reencrypt(vault: Vault, records: list) -> tuple[list[bytes], int]:
    rotated, unreadable = [], 0
    for _, token in records:
        try:
            rotated.append(vault.reencrypt(token))
        except InvalidToken:
            unreadable += 1
    return rotated, unreadable
