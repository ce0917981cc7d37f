"""The credential vault: stored encrypted, listed masked, fetched only by replication."""

import logging
import uuid

import grpc
import pytest
from sqlalchemy import text

from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal
from copytrade.compliance.v1 import compliance_service_pb2 as pb
from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import auth
from services.kit.db import Database
from tests.conftest import TEST_SECRET

VENUE = trading_pb2.Venue(kind=trading_pb2.VENUE_KIND_CCXT, id="binance", market_type=trading_pb2.MARKET_TYPE_SPOT)


def replication_metadata():
    return (("authorization", f"Bearer {auth.service_token(TEST_SECRET, 'replication')}"),)


async def test_secret_is_stored_encrypted_listed_masked_and_fetched_by_replication_only(
        start_service, backend, token_for, service_metadata, caplog):
    caplog.set_level(logging.DEBUG)  # every log line, so the search below means something
    svc = await start_service("compliance")
    public, internal_stub = ComplianceServiceStub(svc.channel), ComplianceInternalServiceStub(svc.channel)
    user = f"u_{uuid.uuid4().hex[:8]}"
    api_key, api_secret = f"KEY{uuid.uuid4().hex}", f"SECRET{uuid.uuid4().hex}"
    stored = (await public.StoreCredential(pb.StoreCredentialRequest(
        user_id=user, venue=VENUE, label="main", api_key=api_key, api_secret=api_secret),
        metadata=token_for(user))).credential
    assert stored.masked_api_key.endswith(api_key[-4:]) and api_key not in stored.masked_api_key
    listed = await public.ListCredentials(pb.ListCredentialsRequest(user_id=user), metadata=token_for(user))
    assert api_secret not in str(listed) and api_key not in str(listed)

    fetched = await internal_stub.FetchCredential(internal.FetchCredentialRequest(
        credential_id=stored.credential_id, user_id=user), metadata=replication_metadata())
    assert (fetched.api_key, fetched.api_secret, fetched.venue.id) == (api_key, api_secret, "binance")
    for metadata in (token_for(user), service_metadata):  # the user, or another service: refused
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await internal_stub.FetchCredential(internal.FetchCredentialRequest(
                credential_id=stored.credential_id), metadata=metadata)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # Nowhere in the database in plaintext, nor in any log line.
    db = Database(svc.settings)
    async with db.session() as session:
        rows = (await session.execute(text("SELECT * FROM credentials"))).all()
    await db.close()
    dump = repr(rows)
    assert api_secret not in dump and api_key not in dump
    assert api_secret not in caplog.text and api_key not in caplog.text


async def test_credentials_are_private_to_their_owner(start_service, token_for):
    public = ComplianceServiceStub((await start_service("compliance")).channel)
    owner, other = "owner-" + uuid.uuid4().hex[:6], "other-" + uuid.uuid4().hex[:6]
    stored = (await public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, api_key="k" * 20, api_secret="s" * 20), metadata=token_for(owner))).credential
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await public.ListCredentials(pb.ListCredentialsRequest(user_id=owner), metadata=token_for(other))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await public.DeleteCredential(pb.DeleteCredentialRequest(credential_id=stored.credential_id),
                                      metadata=token_for(other))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_owner_replaces_a_secret_and_replication_gets_the_new_one(start_service, token_for):
    svc = await start_service("compliance")
    public, internal_stub = ComplianceServiceStub(svc.channel), ComplianceInternalServiceStub(svc.channel)
    owner = "owner-" + uuid.uuid4().hex[:6]
    stored = (await public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, api_key="OLDKEY" + "k" * 10, api_secret="old-secret"), metadata=token_for(owner))).credential
    with pytest.raises(grpc.aio.AioRpcError) as err:  # someone else's: as if it did not exist
        await public.UpdateCredentialSecret(pb.UpdateCredentialSecretRequest(
            credential_id=stored.credential_id, api_key="X" * 12, api_secret="y"), metadata=token_for("intruder"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    updated = (await public.UpdateCredentialSecret(pb.UpdateCredentialSecretRequest(
        credential_id=stored.credential_id, api_key="NEWKEY" + "n" * 10, api_secret="new-secret"),
        metadata=token_for(owner))).credential
    assert updated.masked_api_key.endswith("nnnn") and "new-secret" not in str(updated)
    fetched = await internal_stub.FetchCredential(internal.FetchCredentialRequest(
        credential_id=stored.credential_id), metadata=replication_metadata())
    assert (fetched.api_key, fetched.api_secret) == ("NEWKEY" + "n" * 10, "new-secret")


async def test_replication_fetches_many_credentials_in_one_call_each_audited(start_service, token_for,
                                                                             service_metadata, operator):
    """After a restart, a fill's followers' credentials in one call: each one its owner's, one
    not found among them refused alone, every hand-over in the audit trail."""
    svc = await start_service("compliance")
    public, internal_stub = ComplianceServiceStub(svc.channel), ComplianceInternalServiceStub(svc.channel)
    owners = [f"u_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    stored = [(await public.StoreCredential(pb.StoreCredentialRequest(
        venue=VENUE, api_key=f"KEY{i}" + "k" * 12, api_secret=f"secret-{i}"), metadata=token_for(owner))).credential
        for i, owner in enumerate(owners)]
    wanted = [internal.FetchCredentialRequest(credential_id=c.credential_id, user_id=o) for c, o in zip(stored, owners)]
    wanted.insert(1, internal.FetchCredentialRequest(credential_id=stored[0].credential_id, user_id=owners[2]))
    reply = await internal_stub.FetchCredentials(internal.FetchCredentialsRequest(credentials=wanted),
                                                 metadata=replication_metadata())
    assert [(r.credential_id, r.error_reason, r.credential.api_secret) for r in reply.results] == [
        (stored[0].credential_id, "", "secret-0"), (stored[0].credential_id, "CREDENTIAL_NOT_FOUND", ""),
        (stored[1].credential_id, "", "secret-1"), (stored[2].credential_id, "", "secret-2")]
    for metadata in (token_for(owners[0]), service_metadata):  # the owner, or another service: refused
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await internal_stub.FetchCredentials(internal.FetchCredentialsRequest(credentials=wanted[:1]),
                                                 metadata=metadata)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await internal_stub.FetchCredentials(internal.FetchCredentialsRequest(credentials=wanted[:1] * 1001),
                                             metadata=replication_metadata())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for owner, credential in zip(owners, stored):
        events = (await public.ListAuditEvents(pb.ListAuditEventsRequest(user_id=owner), metadata=operator)).events
        assert [(e.action, e.actor, e.resource) for e in events if e.action == "credential.fetched"] == [
            ("credential.fetched", "service:replication", f"credential:{credential.credential_id}")]
