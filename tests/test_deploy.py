"""docker-compose.yml is checked by parsing it (no Docker engine here): every service is there,
from one image, with what it needs to find its peers, its database and its bus."""

from pathlib import Path

import yaml

from services.kit.config import DEFAULT_PORT_BASE, PORT_OFFSETS, SERVICES

ROOT = Path(__file__).resolve().parent.parent


def test_compose_names_every_service_with_its_wiring():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {*SERVICES, "nats", "postgres"}
    assert "-js" in services["nats"]["command"] and services["nats"]["volumes"]
    assert services["postgres"]["volumes"]
    for name in SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "copytrade:latest"  # one image
        assert service["command"] == ["copytrade", "serve", name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and env["NATS_URL"] == "nats://nats:4222"
        assert env["LISTEN_ADDR"] == f"0.0.0.0:{DEFAULT_PORT_BASE + PORT_OFFSETS[name]}"
        for peer in SERVICES:
            assert env[f"{peer.upper()}_ADDR"] == f"{peer}:{DEFAULT_PORT_BASE + PORT_OFFSETS[peer]}"
        assert {"MASTER_KEY", "JWT_SECRET"} <= set(env)
        assert env["METRICS_ADDR"] == "0.0.0.0:9100" and env["LOG_FORMAT"] == "json"  # scrapeable, parseable
        assert "ports" not in service or name == "gateway"  # only the gateway is published
    assert services["gateway"]["environment"]["GATEWAY_HTTP_ADDR"] == "0.0.0.0:8080"
    assert services["gateway"]["ports"]


def test_the_image_installs_the_project_and_runs_a_service():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "copytrade" in dockerfile.split("CMD", 1)[1]
