"""docker-compose.yml is checked by parsing it (no Docker engine here): every service is there,
from one image, with what it needs to find its peers, its database and its bus, each on mutual
TLS with its own certificate from the `certs` volume (and the NATS nodes' configuration runs,
taking only TLS clients with a certificate from the CA); the optional
observability profile scrapes every service and its dashboard asks only for metrics the
services really export, with labels they really have."""

import asyncio
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import metrics as prom_metrics

from services.kit import natsauth, tls
from services.kit.bus import Bus
from services.kit.config import DEFAULT_PORT_BASE, PORT_OFFSETS, SERVICES
from services.kit.natsd import free_port, nats_server_binary

ROOT = Path(__file__).resolve().parent.parent


def test_compose_names_every_service_with_its_wiring():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = {name: s for name, s in compose["services"].items() if not s.get("profiles")}  # the default set
    nats_nodes = ("nats-1", "nats-2", "nats-3")
    assert set(services) == {*SERVICES, *nats_nodes, "postgres", "certs"}
    # The certificates: made once into the certs volume by the same image, before anything starts.
    assert services["certs"]["image"] == "copytrade:latest"
    assert services["certs"]["command"][:4] == ["python", "-m", "services.kit.tls", "/certs"]
    assert "certs:/certs" in services["certs"]["volumes"] and "certs" in compose["volumes"]
    assert set(tls.NAMES[tls.NATS]) == set(nats_nodes)  # the nodes' certificate names each of them
    volumes = set()
    for node in nats_nodes:  # a JetStream cluster: each node named, routed to all three, its own store
        command = services[node]["command"]
        assert "-js" in command and command[command.index("--name") + 1] == node
        assert command[command.index("--cluster_name") + 1] == "copytrade"
        assert set(command[command.index("--routes") + 1].split(",")) == {f"nats://{n}:6222" for n in nats_nodes}
        volumes.update(v for v in services[node]["volumes"] if v.endswith(":/data"))
        # authentication: the users' file from services/kit/natsauth.py, passwords from .env,
        # included by nats.conf with the TLS blocks; certificates from the certs volume
        assert command[command.index("-c") + 1] == "/etc/nats/nats.conf"
        assert {"./deploy/nats/nats.conf:/etc/nats/nats.conf:ro", "./deploy/nats/auth.conf:/etc/nats/auth.conf:ro",
                "certs:/certs:ro"} <= set(services[node]["volumes"])
        assert services[node]["depends_on"]["certs"]["condition"] == "service_completed_successfully"
        assert {natsauth.password_variable(u) for u in natsauth.USERS} <= set(services[node]["environment"])
    assert len(volumes) == len(nats_nodes)
    assert (ROOT / "deploy" / "nats" / "auth.conf").read_text() == natsauth.compose_config(), \
        "deploy/nats/auth.conf is stale: python -m services.kit.natsauth > deploy/nats/auth.conf"
    assert services["postgres"]["volumes"]
    # The database over TLS only (deploy/postgres), its certificate from the certs volume; the CA's
    # key in a volume the certs service alone mounts.
    assert tls.NAMES[tls.POSTGRES] == ("postgres",)
    assert services["postgres"]["entrypoint"] == ["/bin/sh", "/deploy/postgres/start.sh"]
    assert {"certs:/certs:ro", "./deploy/postgres:/deploy/postgres:ro",
            "./deploy/postgres/pg_hba.conf:/etc/postgresql/pg_hba.conf:ro"} <= set(services["postgres"]["volumes"])
    assert "${POSTGRES_PASSWORD:?" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    command = services["certs"]["command"]
    assert command[command.index("--ca-key-dir") + 1] == "/ca" and "ca-key:/ca" in services["certs"]["volumes"]
    assert [name for name, s in compose["services"].items() if any(v.startswith("ca-key:") for v in s.get("volumes", []))] \
        == ["certs"]
    for name in SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "copytrade:latest"  # one image
        assert service["command"] == ["copytrade", "serve", name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://copytrade:${POSTGRES_PASSWORD:?")
        assert env["DATABASE_URL"].endswith("?sslmode=verify-full&sslrootcert=/certs/ca.pem")
        assert env["NATS_URL"].split(",") == [f"nats://{n}:4222" for n in nats_nodes]
        assert env["NATS_STREAM_REPLICAS"] == "3"
        assert set(service["depends_on"]) >= set(nats_nodes)
        assert env["NATS_USER"] == name and natsauth.password_variable(name) in env["NATS_PASSWORD"]
        assert env["LISTEN_ADDR"] == f"0.0.0.0:{DEFAULT_PORT_BASE + PORT_OFFSETS[name]}"
        for peer in SERVICES:
            assert env[f"{peer.upper()}_ADDR"] == f"{peer}:{DEFAULT_PORT_BASE + PORT_OFFSETS[peer]}"
        assert {"MASTER_KEY", "JWT_SECRET"} <= set(env)
        # master fills' signatures: the private key in replication alone, the public one where fills are acted on
        assert ("FILL_SIGNING_KEY" in env) == (name == "replication")
        assert ("FILL_VERIFY_KEY" in env) == (name in ("discovery", "compliance"))
        own = tls.files(Path("/certs"), name)  # mutual TLS, with its own certificate
        assert (env["TLS_CA"], env["TLS_CERT"], env["TLS_KEY"]) == (str(own.ca), str(own.cert), str(own.key))
        assert "certs:/certs:ro" in service["volumes"]
        assert service["depends_on"]["certs"]["condition"] == "service_completed_successfully"
        assert env["METRICS_ADDR"] == "0.0.0.0:9100" and env["LOG_FORMAT"] == "json"  # scrapeable, parseable
        assert "ports" not in service or name == "gateway"  # only the gateway is published
    assert services["gateway"]["environment"]["GATEWAY_HTTP_ADDR"] == "0.0.0.0:8080"
    # the browser port on HTTPS (tests/gateway/test_edge.py: only HTTPS is answered there)
    assert services["gateway"]["environment"]["GATEWAY_HTTP_TLS_CERT"].endswith(":-/certs/gateway.pem}")
    assert services["gateway"]["environment"]["GATEWAY_HTTP_TLS_KEY"].endswith(":-/certs/gateway-key.pem}")
    assert services["gateway"]["ports"]


def test_the_image_installs_the_project_and_runs_a_service():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "copytrade" in dockerfile.split("CMD", 1)[1]


def exported_metrics() -> dict[str, tuple[str, set[str]]]:
    """Every copytrade metric the services register: sample name → (family, label names)."""
    for service in SERVICES:  # whatever any service defines is registered by importing it
        importlib.import_module(f"services.{service}.server")
    exported = {}
    for module in [m for name, m in sys.modules.items() if name.startswith("services.")]:
        for value in list(vars(module).values()):
            if isinstance(value, prom_metrics.MetricWrapperBase) and value._name.startswith("copytrade_"):
                name, labels = value._name, set(value._labelnames)
                suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"],
                            "summary": ["_sum", "_count"]}[value._type]
                for suffix in suffixes:
                    exported[name + suffix] = (name, labels | ({"le"} if suffix == "_bucket" else set()))
    return exported


def dashboard_queries() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/copytrade.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return queries


def test_the_dashboard_shows_only_what_the_services_export_and_all_of_it():
    exported = exported_metrics()
    shown = set()
    for query in dashboard_queries():
        names = set(re.findall(r"\bcopytrade_[a-z_]+\b", query))
        assert names, query
        unknown = names - set(exported)
        assert not unknown, f"{query}: no service exports {unknown}"
        labels = set().union(*(exported[n][1] for n in names)) | {"job", "instance", "service_name"}
        used = {label.strip() for group in re.findall(r"by \(([^)]*)\)", query) for label in group.split(",")}
        used |= set(re.findall(r"[{,]\s*([a-z_]+)\s*(?:=~|!=|=)", query))
        used |= set(re.findall(r"label_values\([a-z_]+,\s*([a-z_]+)\)", query))
        assert used <= labels, f"{query}: labels {used - labels} are not on {names}"
        shown |= {exported[n][0] for n in names}
    assert shown == {family for family, _ in exported.values()}  # every metric has a panel


def test_the_observability_profile_scrapes_every_service_and_provisions_grafana():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    profile = {name for name, s in services.items() if "observability" in s.get("profiles", [])}
    assert {"prometheus", "grafana", "jaeger"} <= profile
    # Prometheus gets deploy/prometheus.yml, and each name it resolves is a compose service
    # that serves /metrics on the scraped port.
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())["scrape_configs"]
    targets = {(name, sd["port"]) for job in scrape for sd in job.get("dns_sd_configs", []) for name in sd["names"]}
    targets |= {tuple(t.rsplit(":", 1)) for job in scrape for sc in job.get("static_configs", [])
                for t in sc["targets"]}
    assert {name for name, _ in targets} == set(SERVICES)
    for name, port in targets:
        assert services[name]["environment"]["METRICS_ADDR"] == f"0.0.0.0:{port}"
    # Grafana: provisioning and dashboards mounted where its provider looks; panels use its datasource.
    volumes = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/dashboards.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in volumes
    sources = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/datasources.yml").read_text())
    prometheus = next(d for d in sources["datasources"] if d["type"] == "prometheus")
    assert prometheus["url"] == "http://prometheus:9090"
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/copytrade.json").read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p} == {prometheus["uid"]}
    # Traces go to the profile's Jaeger when turned on, and are off by default.
    env = services["replication"]["environment"]
    assert env["OTEL_TRACES_EXPORTER"] == "${OTEL_TRACES_EXPORTER:-none}"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith("jaeger:4317}")


async def test_the_compose_nats_configuration_takes_only_tls_clients_with_a_certificate(tmp_path):
    """deploy/nats/nats.conf run by the wheel's nats-server, with the certificates the certs
    service makes where the volume would be: a plaintext client is refused, a client with a
    certificate from the CA logs in."""
    certs = tls.ensure(tmp_path / "certs")
    for name in ("nats.conf", "auth.conf"):
        (tmp_path / name).write_text((ROOT / "deploy" / "nats" / name).read_text().replace("/certs/", f"{certs}/"))
    passwords = natsauth.generate()
    port, route = free_port(), free_port()
    with open(tmp_path / "nats.log", "wb") as log:
        node = subprocess.Popen(
            [nats_server_binary(), "-c", str(tmp_path / "nats.conf"), "-a", "127.0.0.1", "-p", str(port),
             "--name", "nats-1", "--cluster_name", "copytrade", "--cluster", f"nats://127.0.0.1:{route}"],
            env={**os.environ, **{natsauth.password_variable(u): p for u, p in passwords.items()}},
            stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                assert node.poll() is None, (tmp_path / "nats.log").read_text()
                await asyncio.sleep(0.1)
        writer.write(b'CONNECT {"user": "admin"}\r\nPING\r\n')  # plaintext: no INFO, no PONG, hung up on
        await writer.drain()
        said = await asyncio.wait_for(reader.read(), 15)
        writer.close()
        assert b"PONG" not in said and b"INFO" not in said
        import ssl

        import nats

        with pytest.raises(Exception):  # noqa: B017 - no certificate of its own: refused, however worded
            client = await nats.connect(f"nats://127.0.0.1:{port}", allow_reconnect=False, connect_timeout=3,
                                        tls=ssl.create_default_context(cafile=str(certs / "ca.pem")),
                                        tls_handshake_first=True, user="admin", password=passwords["admin"])
            await client.flush(timeout=3)
        bus = await Bus.connect(f"nats://127.0.0.1:{port}", "deploy-check", ensure_streams=False, user="admin",
                                password=passwords["admin"], tls=tls.files(certs, tls.CLIENT))
        await bus.nc.flush(timeout=5)
        await bus.close()
    finally:
        node.terminate()
        node.wait(10)


async def test_the_compose_database_takes_only_tls_and_the_services_check_its_certificate(tmp_path):
    """deploy/postgres run by the machine's PostgreSQL with the certs service's certificate for
    `postgres` (as start.sh installs it) and compose's pg_hba.conf: a plaintext connection is
    refused; the services' own database layer connects with compose's DATABASE_URL options
    (sslmode=verify-full against the CA); a client trusting another CA is refused."""
    import psycopg
    from sqlalchemy import text

    from services.kit.config import Settings
    from services.kit.db import Database
    from services.kit.pgd import PrivatePostgres, postgres_bin_dir

    if postgres_bin_dir() is None:
        pytest.skip("no PostgreSQL server binaries here")
    certs = tls.ensure(tmp_path / "certs", ca_key_dir=tmp_path / "ca")
    other = tls.ensure(tmp_path / "other-certs")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    query = compose["x-copytrade"]["environment"]["DATABASE_URL"].rsplit("?", 1)[1]
    assert query == "sslmode=verify-full&sslrootcert=/certs/ca.pem"
    start = (ROOT / "deploy" / "postgres" / "start.sh").read_text()
    settings = dict(re.findall(r"-c (\w+)=(\S+)", start))
    pg = PrivatePostgres()  # its own directory, which the server user can reach
    cert, key = pg.own(certs / "postgres.pem", "server.pem"), pg.own(certs / "postgres-key.pem", "server-key.pem")
    hba = pg.own(ROOT / "deploy" / "postgres" / "pg_hba.conf", "pg_hba.conf")
    settings.update(ssl_cert_file=str(cert), ssl_key_file=str(key), hba_file=str(hba))
    assert settings["ssl"] == "on"
    pg.options = " ".join(f"-c {k}={v}" for k, v in settings.items())
    await pg.start()
    try:
        with psycopg.connect(host=str(pg.root), port=pg.port, user="postgres", dbname="postgres",
                             autocommit=True) as local:  # the socket, as the image's initialisation uses it
            local.execute("ALTER USER postgres PASSWORD 'pw-for-this-test'")
        tcp = f"postgresql://postgres:pw-for-this-test@127.0.0.1:{pg.port}/postgres"
        with pytest.raises(psycopg.OperationalError, match="no encryption|pg_hba"):
            psycopg.connect(tcp + "?sslmode=disable", connect_timeout=5).close()
        with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
            psycopg.connect(f"{tcp}?sslmode=verify-full&sslrootcert={other / 'ca.pem'}", connect_timeout=5).close()
        db = Database(Settings(service="risk", data_dir=tmp_path / "data",
                               database_url=f"{tcp}?{query.replace('/certs/', f'{certs}/')}"))
        try:
            async with db.session() as session:
                used = (await session.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))).scalar()
            assert used is True
        finally:
            await db.close()
    finally:
        await pg.stop()
        pg.remove()
