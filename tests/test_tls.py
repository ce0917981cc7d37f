"""Mutual TLS between the services and to NATS (services/kit/tls.py): a service's gRPC port and
the NATS server take only clients holding a certificate from the mesh's CA, and replication
fetches a follower's venue keys from compliance over it."""

import asyncio
import ssl
import stat
import uuid

import grpc
import nats
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from copytrade.compliance.v1 import compliance_internal_service_pb2 as internal
from copytrade.compliance.v1.compliance_internal_service_pb2_grpc import ComplianceInternalServiceStub
from copytrade.compliance.v1.compliance_service_pb2_grpc import ComplianceServiceStub
from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.replication.v1 import replication_service_pb2 as rep
from copytrade.replication.v1.replication_service_pb2_grpc import ReplicationServiceStub
from copytrade.risk.v1 import risk_service_pb2 as risk_pb
from copytrade.risk.v1.risk_service_pb2_grpc import RiskServiceStub
from copytrade.type.v1 import trading_pb2
from services.kit import auth, clients, natsauth, tls
from services.kit.bus import Bus
from services.kit.config import Settings
from services.kit.testing import eventually
from tests.conftest import TEST_SECRET, AuthenticatedNats, provision_streams
from tests.replication.test_copy_flow import enrol
from venue_sim import Simulator, venue_urls


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return tls.ensure(tmp_path_factory.mktemp("tls"))


@pytest_asyncio.fixture(scope="module")
async def tls_nats(tmp_path_factory, certs):
    server = await AuthenticatedNats(tmp_path_factory.mktemp("jetstream-tls"), users=natsauth.generate(),
                                     tls=tls.files(certs, tls.NATS)).start()
    await provision_streams(server.url, tls=tls.files(certs, tls.CLIENT))
    yield server
    await server.stop()


@pytest.fixture
def over_tls(certs, tls_nats):
    """A service's settings for the TLS mesh: its own certificate, the TLS nats-server."""

    def overrides(service: str) -> dict:
        user = service if service in natsauth.PERMISSIONS else natsauth.ADMIN
        return {"tls": tls.files(certs, service), "nats_url": tls_nats.plain_url,
                "nats_password": tls_nats.users[user]}

    return overrides


async def _health(channel) -> int:
    return (await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)).status


def test_certificates_are_made_once_private_and_all_over_again_under_a_new_ca(tmp_path):
    directory = tls.ensure(tmp_path / "tls", hosts=("10.0.0.7",))
    made = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert {"ca.pem", "ca-key.pem", "risk.pem", "risk-key.pem", "nats.pem", "client.pem"} <= set(made)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    tls.ensure(directory, hosts=("10.0.0.7",))  # a second `up`: nothing changes
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == made
    from cryptography import x509

    risk = x509.load_pem_x509_certificate(made["risk.pem"])
    names = risk.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"risk", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.0.0.7"} <= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    (directory / "ca.pem").unlink()  # rotation: a new CA, and every certificate signed by it
    tls.ensure(directory)
    again = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert all(again[name] != made[name] for name in made)


def test_tls_takes_all_three_files_or_none():
    assert Settings.from_env("risk", {}).tls is None
    files = Settings.from_env("risk", {"TLS_CA": "/c/ca.pem", "TLS_CERT": "/c/risk.pem", "TLS_KEY": "/c/k.pem"}).tls
    assert (str(files.ca), str(files.cert), str(files.key)) == ("/c/ca.pem", "/c/risk.pem", "/c/k.pem")
    with pytest.raises(ValueError, match="TLS_KEY"):  # never half-configured into plaintext
        Settings.from_env("risk", {"TLS_CA": "/c/ca.pem", "TLS_CERT": "/c/risk.pem"})


async def test_a_services_port_takes_only_clients_with_a_certificate_from_its_ca(
        start_service, over_tls, certs, tmp_path, token_for):
    risk = await start_service("risk", **over_tls("risk"))
    stranger = tls.ensure(tmp_path / "another-ca", names=(tls.CLIENT,))
    ca = (certs / "ca.pem").read_bytes()
    refused = {
        "plaintext": grpc.aio.insecure_channel(risk.address),
        "no client certificate": grpc.aio.secure_channel(risk.address, grpc.ssl_channel_credentials(ca)),
        "a certificate from another CA": grpc.aio.secure_channel(risk.address, grpc.ssl_channel_credentials(
            ca, (stranger / "client-key.pem").read_bytes(), (stranger / "client.pem").read_bytes())),
        # and the client checks the server: one whose CA it does not know is not spoken to
        "a server from another CA": clients.balanced_channel(risk.address, tls=tls.files(stranger, tls.CLIENT)),
    }
    for what, channel in refused.items():
        try:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _health(channel)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE, what
        finally:
            await channel.close()
    async with clients.balanced_channel(risk.address, tls=tls.files(certs, tls.CLIENT)) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        reply = await RiskServiceStub(channel).GetRiskLimits(risk_pb.GetRiskLimitsRequest(user_id="u1"),
                                                             metadata=token_for("u1"))
        assert reply.limits is not None


async def test_replication_fetches_a_followers_keys_from_compliance_over_mutual_tls(
        start_service, over_tls, token_for):
    """The copy path with every service on TLS: the follower's order reaches the venue signed with
    its keys, which replication could get only from compliance's TLS port."""
    sim = await Simulator(seed=11).start()
    try:
        compliance = await start_service("compliance", **over_tls("compliance"))
        risk = await start_service("risk", **over_tls("risk"))
        replication = await start_service(
            "replication", addresses={**compliance.settings.addresses, "compliance": compliance.address,
                                      "risk": risk.address},
            venue_urls=venue_urls(sim.url), venue_rate_limit=False, **over_tls("replication"))
        vault, copier = ComplianceServiceStub(compliance.channel), ReplicationServiceStub(replication.channel)
        master, _, master_account = await enrol(sim, vault, copier, token_for, "m", rep.ACCOUNT_ROLE_MASTER,
                                                {"USDT": "100000"})
        follower, _, account = await enrol(sim, vault, copier, token_for, "f", rep.ACCOUNT_ROLE_FOLLOWER,
                                           {"USDT": "50000"})
        await copier.StartCopySession(rep.StartCopySessionRequest(
            follower_account_id=account.account_id, master_account_id=master_account.account_id,
            settings=rep.CopySettings(sizing_mode=rep.SIZING_MODE_MULTIPLIER, multiplier="1")),
            metadata=token_for(follower))
        await copier.SubmitMasterFill(rep.SubmitMasterFillRequest(
            master_account_id=master_account.account_id, venue_trade_id="T-tls", symbol="BTC/USDT",
            side=trading_pb2.SIDE_BUY, quantity="0.01", price="64000"), metadata=token_for(master))
        await eventually(lambda: len(sim.orders(follower)) == 1, timeout=30,
                         message="the copy placed with the follower's keys")
        assert replication.running.components["pool"].holds(account.account_id)
        # The keys' only way out of compliance is its TLS port: a plaintext caller gets nothing.
        as_replication = (("authorization", f"Bearer {auth.service_token(TEST_SECRET, 'replication')}"),)
        async with grpc.aio.insecure_channel(compliance.address) as plaintext:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await ComplianceInternalServiceStub(plaintext).FetchCredential(internal.FetchCredentialRequest(
                    credential_id=account.credential_id, user_id=follower), metadata=as_replication, timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await sim.stop()


async def test_nats_takes_only_tls_clients_with_a_certificate_from_its_ca(tls_nats, certs, tmp_path):
    admin = {"user": natsauth.ADMIN, "password": tls_nats.users[natsauth.ADMIN]}
    # Plaintext: the server answers nothing but a TLS handshake, so no password is sent in clear.
    reader, writer = await asyncio.open_connection(tls_nats.host, tls_nats.port)
    writer.write(f'CONNECT {{"user": "admin", "pass": "{admin["password"]}"}}\r\nPING\r\n'.encode())
    await writer.drain()
    said = b""
    try:  # until the server hangs up (or 10 s of silence)
        while chunk := await asyncio.wait_for(reader.read(4096), 10):
            said += chunk
    except TimeoutError:
        pass
    writer.close()
    assert b"PONG" not in said and b"+OK" not in said and b"INFO" not in said
    stranger = tls.ensure(tmp_path / "another-ca", names=(tls.CLIENT,))
    no_certificate = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    other_ca = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    other_ca.load_cert_chain(str(stranger / "client.pem"), str(stranger / "client-key.pem"))
    for what, options in {"no TLS": {}, "no client certificate": {"tls": no_certificate},
                          "a certificate from another CA": {"tls": other_ca}}.items():
        with pytest.raises(Exception):  # noqa: B017 - refused, however the client words it
            client = await nats.connect(tls_nats.plain_url, allow_reconnect=False, connect_timeout=3,
                                        tls_handshake_first=bool(options), **options, **admin)
            await client.flush(timeout=3)
            await client.close()
            pytest.fail(f"connected with {what}")
    # The bus with the CA and a certificate from it: JetStream works through it.
    bus = await Bus.connect(tls_nats.plain_url, "tls-observer", tls=tls.files(certs, tls.CLIENT), **admin)
    risk = await Bus.for_service(Settings(service="risk", nats_url=tls_nats.plain_url, nats_user="risk",
                                          nats_password=tls_nats.users["risk"], tls=tls.files(certs, "risk")))
    try:
        fill_id = uuid.uuid4().hex
        assert await risk.publish(f"risk.limits.changed.{fill_id}", events.MasterFill(fill_id=fill_id),
                                  msg_id=fill_id) is True
        info = await bus.js.stream_info("RISK", subjects_filter=f"risk.limits.changed.{fill_id}")
        assert info.state.subjects == {f"risk.limits.changed.{fill_id}": 1}
    finally:
        await risk.close()
        await bus.close()


async def test_the_rest_gateway_reaches_every_service_over_mutual_tls(start_service, over_tls):
    """A person's password goes from the gateway to compliance, and their token back, over TLS."""
    import aiohttp

    started = {name: await start_service(name, **over_tls(name))
               for name in ("compliance", "risk", "replication", "discovery")}
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0", **over_tls("gateway"))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        health = await (await http.get("/healthz")).json()
        assert health["healthy"], health
        email, password = f"{uuid.uuid4().hex[:8]}@example.com", "twelve chars or more"
        assert (await http.post("/v1/users", json={"email": email, "password": password})).status == 200
        login = await http.post("/v1/auth:login", json={"email": email, "password": password})
        assert login.status == 200 and (await login.json())["accessToken"]


async def test_the_operator_cli_calls_a_mesh_on_tls_with_the_tools_certificate(start_service, over_tls, certs,
                                                                               tmp_path):
    import json

    from tests.test_ops_cli import cli

    risk = await start_service("risk", **over_tls("risk"))
    (tmp_path / "endpoints.json").write_text(json.dumps({"risk": risk.address}))
    code, _, err = await cli(tmp_path, "kill-switch", "on", "--user", "u-tls")
    assert code != 0 and "UNAVAILABLE" in err, err  # no certificate in the data directory: refused
    (tmp_path / "tls").symlink_to(certs)  # where `up` keeps them
    code, out, err = await cli(tmp_path, "kill-switch", "on", "--user", "u-tls")
    assert code == 0 and "HALTED" in out, err


async def test_a_nats_cluster_routes_over_tls_and_keeps_streams_on_three_nodes(tmp_path, certs):
    """`up --nats-cluster`'s nodes: their routes take only peers with a certificate from the CA,
    and JetStream forms over them (a stream on all three nodes)."""
    from services.kit.natsd import NatsCluster

    cluster = await NatsCluster(tmp_path / "js", size=3, users=natsauth.generate(),
                                tls=tls.files(certs, tls.NATS)).start()
    try:
        assert all(node.config()["cluster"]["tls"]["verify"] for node in cluster.nodes)
        bus = await Bus.connect(cluster.url_as(natsauth.ADMIN), "tls-cluster", replicas=3,
                                tls=tls.files(certs, tls.CLIENT))
        try:
            info = await bus.js.stream_info("FILLS")
            assert info.config.num_replicas == 3 and len(info.cluster.replicas or []) == 2
        finally:
            await bus.close()
    finally:
        await cluster.stop()


def test_the_ca_key_can_live_apart_from_the_certificates_and_an_old_one_moves_there(tmp_path):
    """compose's certs service keeps the CA's key in a volume only it mounts: the certificates'
    directory (which every service reads) holds no key that could sign a certificate; one kept
    there by an earlier version moves, so the CA and every certificate stay the same."""
    from cryptography import x509

    certs = tls.ensure(tmp_path / "certs")  # as before: the key beside the certificates
    made = {p.name: p.read_bytes() for p in certs.iterdir()}
    tls.ensure(certs, ca_key_dir=tmp_path / "ca")
    assert not (certs / "ca-key.pem").exists() and (tmp_path / "ca" / "ca-key.pem").read_bytes() == made["ca-key.pem"]
    assert {p.name: p.read_bytes() for p in certs.iterdir()} == {k: v for k, v in made.items() if k != "ca-key.pem"}
    assert stat.S_IMODE((tmp_path / "ca").stat().st_mode) == 0o700
    fresh = tls.ensure(tmp_path / "fresh", ca_key_dir=tmp_path / "fresh-ca")
    assert not (fresh / "ca-key.pem").exists() and (tmp_path / "fresh-ca" / "ca-key.pem").exists()
    postgres = x509.load_pem_x509_certificate((fresh / "postgres.pem").read_bytes())
    assert "postgres" in postgres.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
