"""A user's data: they can take a copy of it, and erasing them leaves nothing of their secrets
or personal details behind, while the audit trail about them stays whole."""

import json
import uuid

import grpc
import pytest

from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.type.v1 import trading_pb2

VENUE = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="kraken", market_type=trading_pb2.MARKET_TYPE_SPOT)
PASSWORD = "correct horse battery staple"


async def test_export_then_erase(start_compliance, backend, token_for, operator, replication_metadata):
    svc = await start_compliance()
    email, legal_name, document_number = f"{uuid.uuid4().hex[:8]}@example.com", "Grace Hopper", "D98765432"
    api_key, api_secret, passphrase = f"KEY{uuid.uuid4().hex}", f"SECRET{uuid.uuid4().hex}", "PASS-" + uuid.uuid4().hex
    user = (await svc.public.RegisterUser(pb.RegisterUserRequest(email=email, password=PASSWORD,
                                                                 display_name="Grace"))).user.user_id
    login = await svc.public.Login(pb.LoginRequest(email=email, password=PASSWORD),
                                   metadata=(("x-forwarded-for", "203.0.113.5"),))
    me = (("authorization", f"Bearer {login.access_token}"),)
    credential_ids = [(await svc.public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, label=f"acct {n}", api_key=api_key, api_secret=api_secret, passphrase=passphrase),
        metadata=me)).credential.credential_id for n in range(2)]
    await svc.public.SubmitKyc(pb.SubmitKycRequest(user_id=user, legal_name=legal_name, country="US",
                                                   document_type="passport", document_number=document_number),
                               metadata=me)
    await svc.public.RecordConsent(pb.RecordConsentRequest(user_id=user, document="risk_disclosure",
                                                           version="2026-01"), metadata=me)
    other = await svc.public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, api_key="OTHERKEY" + "x" * 8, api_secret="OTHERSECRET"), metadata=token_for("someone-else"))

    exported = json.loads((await svc.public.ExportUserData(pb.ExportUserDataRequest(user_id=user),
                                                           metadata=me)).content)
    assert exported["profile"]["email"] == email and exported["kyc"]["status"] == "KYC_STATUS_PENDING"
    assert exported["kyc"]["legal_name"] == legal_name and exported["kyc"]["document_number_masked"].endswith("5432")
    assert [c["credential_id"] for c in exported["credentials"]] == credential_ids
    assert [c["version"] for c in exported["consents"]] == ["2026-01"]
    assert [a["address"] for a in exported["login_addresses"]] == ["203.0.113.5"]
    assert {"user.registered", "user.logged_in", "credential.stored", "kyc.submitted"} <= {
        e["action"] for e in exported["audit_events"]}
    content = json.dumps(exported)
    for secret in (api_key, api_secret, passphrase, document_number, PASSWORD):
        assert secret not in content
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.ExportUserData(pb.ExportUserDataRequest(user_id=user), metadata=token_for("someone-else"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.DeleteUser(pb.DeleteUserRequest(user_id=user), metadata=token_for("someone-else"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    ciphertexts = [c for (c,) in await svc.sql("SELECT ciphertext FROM credentials WHERE user_id = :u", u=user)]
    deleted = await svc.public.DeleteUser(pb.DeleteUserRequest(user_id=user), metadata=me)
    assert deleted.credentials_shredded == 2

    for credential_id in credential_ids:  # replication can no longer get the keys
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await svc.internal.FetchCredential(internal.FetchCredentialRequest(credential_id=credential_id),
                                               metadata=replication_metadata)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.public.Login(pb.LoginRequest(email=email, password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:  # erased once; nothing left to erase
        await svc.public.DeleteUser(pb.DeleteUserRequest(user_id=user), metadata=operator)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    # Nothing of theirs left in any table: no plaintext, no ciphertext, no personal detail.
    listing = ("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
               if backend == "postgres" else "SELECT name FROM sqlite_master WHERE type = 'table'")
    tables = [name for (name,) in await svc.sql(listing)]
    assert {"users", "credentials", "kyc_verifications", "audit_events", "login_addresses"} <= set(tables)
    dump = ""
    for table in tables:
        dump += repr(await svc.sql(f'SELECT * FROM "{table}"'))
    for gone in (api_key, api_secret, passphrase, document_number, email, legal_name, "203.0.113.5",
                 *(repr(c) for c in ciphertexts)):
        assert gone not in dump, gone
    # ... while the trail about them stays, and stays whole.
    trail = (await svc.public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=user), metadata=operator)).events
    assert trail[0].action == "user.deleted" and json.loads(trail[0].details_json) == {"credentials_shredded": 2}
    assert "credential.stored" in {e.action for e in trail}
    assert (await svc.public.VerifyAuditChain(pb.VerifyAuditChainRequest(), metadata=operator)).intact
    # Other users keep theirs.
    fetched = await svc.internal.FetchCredential(internal.FetchCredentialRequest(
        credential_id=other.credential.credential_id), metadata=replication_metadata)
    assert fetched.api_secret == "OTHERSECRET"


async def test_erasure_crypto_shreds_what_a_backup_kept(start_compliance, backend, token_for, operator,
                                                         replication_metadata):
    """Each user's secrets are under a data key of their own, which erasure destroys: a copy of
    their ciphertext made before (a backup) cannot be read afterwards, even with MASTER_KEY."""
    svc = await start_compliance()
    user = f"u_{uuid.uuid4().hex[:8]}"
    stored = (await svc.public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, api_key="BACKEDUPKEY1", api_secret="backed-up-secret"), metadata=token_for(user))).credential
    backup = await svc.sql("SELECT * FROM credentials WHERE credential_id = :cid", cid=stored.credential_id)
    columns = [c for (c,) in await svc.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'credentials' "
        "AND table_schema = current_schema() ORDER BY ordinal_position")] if backend == "postgres" else [
        row[1] for row in await svc.sql("PRAGMA table_info(credentials)")]
    kept = (await svc.public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, api_key="OTHERUSERKEY", api_secret="not-erased"), metadata=token_for("stays"))).credential

    await svc.public.DeleteUser(pb.DeleteUserRequest(user_id=user), metadata=operator)
    # The backup comes back into the table, as a restore would bring it ...
    await svc.sql(f"INSERT INTO credentials ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})",
                  **dict(zip(columns, backup[0])))
    # ... and is ciphertext nobody can open any more.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await svc.internal.FetchCredential(internal.FetchCredentialRequest(
            credential_id=stored.credential_id, user_id=user), metadata=replication_metadata)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    fetched = await svc.internal.FetchCredential(internal.FetchCredentialRequest(
        credential_id=kept.credential_id, user_id="stays"), metadata=replication_metadata)
    assert fetched.api_secret == "not-erased"
