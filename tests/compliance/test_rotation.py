"""Rotating the vault's master key: every stored secret is re-encrypted under the new key, the
old key opens nothing afterwards, and nothing stored meanwhile is lost."""

import asyncio
import uuid

import grpc
import pytest

from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.type.v1 import trading_pb2
from services.compliance.vault import InvalidToken, UserVault, Vault, derive_key

VENUE = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="okx", market_type=trading_pb2.MARKET_TYPE_SPOT)
OLD_KEY, NEW_KEY = "test-master-key", "rotated-master-key-0123456789"


async def store(svc, token_for, user: str, n: int) -> tuple[str, str, str]:
    api_key, api_secret = f"KEY{n}-{uuid.uuid4().hex}", f"SECRET{n}-{uuid.uuid4().hex}"
    stored = await svc.public.StoreCredential(pb.StoreCredentialRequest(
        user_id=user, venue=VENUE, api_key=api_key, api_secret=api_secret, passphrase=f"pass{n}"),
        metadata=token_for(user))
    return stored.credential.credential_id, api_key, api_secret


async def test_rotation_leaves_every_secret_readable_with_the_new_key_only(
        start_compliance, backend, token_for, operator, replication_metadata):
    first = await start_compliance(master_key=OLD_KEY)
    name, user = first.settings.service, f"u_{uuid.uuid4().hex[:8]}"
    secrets = {cid: (key, secret) for cid, key, secret in [await store(first, token_for, user, n) for n in range(3)]}
    document_number = f"P{uuid.uuid4().hex[:9]}"
    await first.public.SubmitKyc(pb.SubmitKycRequest(user_id=user, legal_name="Ada L", country="GB",
                                                     document_type="passport", document_number=document_number),
                                 metadata=token_for(user))
    (old_salt,), = await first.sql("SELECT salt FROM vault_keys")
    await first.stop()

    # The operator sets the new MASTER_KEY, keeps the old one as MASTER_KEY_PREVIOUS, restarts.
    rotating = await start_compliance(name, master_key=NEW_KEY, master_key_previous=OLD_KEY)
    replica = await start_compliance(name, master_key=NEW_KEY, master_key_previous=OLD_KEY)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rotating.public.RotateEncryptionKey(pb.RotateEncryptionKeyRequest(), metadata=token_for(user))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # Stores racing the rotation wait for it, then write under the new key.
    racing = [store(rotating, token_for, user, n) for n in range(3, 7)]
    rotated, *stored_meanwhile = await asyncio.gather(
        rotating.public.RotateEncryptionKey(pb.RotateEncryptionKeyRequest(), metadata=operator), *racing)
    secrets.update({cid: (key, secret) for cid, key, secret in stored_meanwhile})
    assert 4 <= rotated.records_reencrypted <= 8  # 3 credentials and a document, and any racing store before it
    stored_late = await store(replica, token_for, user, 7)  # a replica that started before the rotation
    secrets[stored_late[0]] = stored_late[1:]

    (new_salt,), = await rotating.sql("SELECT salt FROM vault_keys")
    assert new_salt != old_salt
    old_vault = Vault([("old", derive_key(OLD_KEY, old_salt))])
    new_vault = Vault([("new", derive_key(NEW_KEY, new_salt))])
    # The user's secrets are under their own data key, which is sealed under the new key alone.
    (sealed,), = await rotating.sql("SELECT sealed FROM user_keys WHERE user_id = :u", u=user)
    with pytest.raises(InvalidToken):
        old_vault.unseal(sealed)
    users_key = UserVault(new_vault.unseal(sealed))
    rows = await rotating.sql("SELECT credential_id, ciphertext FROM credentials WHERE user_id = :u", u=user)
    assert {cid for cid, _ in rows} == set(secrets)
    for cid, ciphertext in rows:
        opened = users_key.decrypt(ciphertext)
        assert (opened.api_key, opened.api_secret) == secrets[cid]
    (document,), = await rotating.sql("SELECT document_number FROM kyc_verifications WHERE user_id = :u", u=user)
    assert users_key.decrypt(document).api_key == document_number

    # The old key can go: a restart with only the new key reads everything.
    await rotating.stop()
    after = await start_compliance(name, master_key=NEW_KEY)
    for cid, (api_key, api_secret) in secrets.items():
        for svc in (after, replica):  # the replica follows the rotation another replica made
            fetched = await svc.internal.FetchCredential(internal.FetchCredentialRequest(credential_id=cid),
                                                         metadata=replication_metadata)
            assert (fetched.api_key, fetched.api_secret) == (api_key, api_secret)
    # The audit chain's key was re-sealed with them: the chain verifies under the new key alone.
    verified = await after.public.VerifyAuditChain(pb.VerifyAuditChainRequest(), metadata=operator)
    assert verified.intact and verified.records_checked > 8


async def test_rotation_refuses_to_lose_secrets_it_cannot_read(start_compliance, token_for, operator,
                                                               replication_metadata):
    first = await start_compliance(master_key=OLD_KEY)
    cid, api_key, _ = await store(first, token_for, "u1", 1)
    await first.stop()
    # Without MASTER_KEY_PREVIOUS the audit chain's key (sealed like a secret) does not open:
    # compliance refuses to start at all, so no rotation can run under the wrong key.
    with pytest.raises(RuntimeError, match="MASTER_KEY"):
        await start_compliance(first.settings.service, master_key=NEW_KEY)
    again = await start_compliance(first.settings.service, master_key=OLD_KEY)  # nothing was changed
    fetched = await again.internal.FetchCredential(internal.FetchCredentialRequest(credential_id=cid),
                                                   metadata=replication_metadata)
    assert fetched.api_key == api_key
