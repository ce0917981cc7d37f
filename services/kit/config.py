"""Configuration from the environment. Every variable has a default that runs on one machine."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("discovery", "replication", "risk", "compliance", "gateway")
DEFAULT_PORT_BASE = 15050
# Offsets from --port-base: nats, then the five services' gRPC ports, then the gateway's HTTP.
PORT_OFFSETS = {"nats": 0, "discovery": 1, "replication": 2, "risk": 3, "compliance": 4, "gateway": 5, "http": 6}
DEV_SECRET = "copytrade-dev-only-secret-change-me"
# Where a compliance caller's own forwarded address is believed from: loopback and private ranges.
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
# The seed's names for three of risk's platform defaults, beside RISK_DEFAULT_<LIMIT>.
RISK_DEFAULT_ALIASES = {"MAX_DAILY_LOSS": "max_daily_loss", "MAX_DRAWDOWN": "max_drawdown",
                        "CIRCUIT_BREAKER_ENABLED": "circuit_breaker_enabled"}


def default_data_dir() -> Path:
    return Path(os.environ.get("COPYTRADE_DATA_DIR", Path.cwd() / "data"))


def default_addresses(host: str = "127.0.0.1", port_base: int = DEFAULT_PORT_BASE) -> dict[str, str]:
    return {name: f"{host}:{port_base + PORT_OFFSETS[name]}" for name in SERVICES}


def risk_defaults_from_env(env: dict[str, str]) -> dict[str, str]:
    """RISK_DEFAULT_<LIMIT> (and the seed's aliases; RISK_DEFAULT_ wins) by limit name."""
    values = {name: env[alias] for alias, name in RISK_DEFAULT_ALIASES.items() if alias in env}
    values.update({k.removeprefix("RISK_DEFAULT_").lower(): v for k, v in env.items() if k.startswith("RISK_DEFAULT_")})
    return values


def cli_token(env: dict[str, str] | None = None) -> str:
    """COPYTRADE_TOKEN: the token the CLI calls with instead of the one `login` kept."""
    return (os.environ if env is None else env).get("COPYTRADE_TOKEN", "")


@dataclass(frozen=True)
class TlsFiles:
    """Mutual TLS (services/kit/tls.py): the CA every peer's certificate is signed by, and this
    process's own certificate and key (PEM files)."""

    ca: Path
    cert: Path
    key: Path


TLS_VARIABLES = ("TLS_CA", "TLS_CERT", "TLS_KEY")


def tls_from_env(env: dict[str, str]) -> TlsFiles | None:
    """TLS_CA, TLS_CERT and TLS_KEY, all three or none (None: plaintext, as on one host)."""
    given = {name: env.get(name) for name in TLS_VARIABLES}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:  # half a TLS configuration would fall back to plaintext: refuse instead
        raise ValueError(f"TLS needs {', '.join(TLS_VARIABLES)}; {', '.join(missing)} not set")
    return TlsFiles(*(Path(given[name]) for name in TLS_VARIABLES))


CCXT_SANDBOX = "sandbox"


def venue_urls_from_json(text: str) -> dict[str, str | dict]:
    """VENUE_URLS: a JSON object from venue id to where that venue is reached instead of its
    public address, one of
      - "sandbox": a ccxt venue's own testnet, as ccxt knows it (its sandbox mode);
      - an object: a ccxt venue's API URLs by ccxt's names for them (`urls['api']`), replacing
        those given, e.g. {"binance": {"public": "https://testnet.binance.vision/api/v3",
        "private": "https://testnet.binance.vision/api/v3", ...}};
      - a string: the address of a gateway-connected venue (IB's TWS/Gateway "host:port",
        Rithmic's R|Protocol URL, NinjaTrader's ATI folder).
    Refused here, at start-up, when it is not of that shape."""
    try:
        urls = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"VENUE_URLS is not JSON: {exc}") from None

    def strings(value) -> bool:
        return isinstance(value, str) or (isinstance(value, dict) and bool(value)
                                          and all(isinstance(k, str) and strings(v) for k, v in value.items()))

    if not isinstance(urls, dict):
        raise ValueError("VENUE_URLS is a JSON object from venue id to its address")
    for venue, value in urls.items():
        if not (isinstance(value, str) and value) and not (isinstance(value, dict) and strings(value)):
            raise ValueError(f"VENUE_URLS[{venue!r}] is an address, \"{CCXT_SANDBOX}\" or an object of ccxt's API "
                             "URLs (strings, or objects of them)")
    return urls


@dataclass(frozen=True)
class Settings:
    """What a service needs to run. `from_env` reads it; tests build it directly."""

    service: str
    data_dir: Path = field(default_factory=default_data_dir)
    # PostgreSQL URL (postgresql+psycopg://...); unset → one SQLite file per service in data_dir.
    database_url: str | None = None
    # One NATS server, or a cluster's servers comma-separated (nats://n1:4222,nats://n2:4222,...).
    nats_url: str = "nats://127.0.0.1:4222"
    # Copies JetStream keeps of each stream and KV bucket: 1 on a single node, 3 in a cluster (a
    # stream then survives the loss of any one node).
    stream_replicas: int = 1
    # This service's NATS user (services/kit/natsauth.py: its publish/subscribe allow-lists);
    # unset: connect without credentials (a server without authentication).
    nats_user: str | None = None
    nats_password: str | None = field(default=None, repr=False)
    master_key: str = DEV_SECRET
    jwt_secret: str = DEV_SECRET
    # Master fills' Ed25519 keys (services/kit/fillsign.py), base64: replication signs with the
    # private one, discovery and compliance check with the public one; None: the development pair.
    fill_signing_key: str | None = field(default=None, repr=False)
    fill_verify_key: str | None = None
    listen: str = "127.0.0.1:0"
    # gRPC address of every service, for calls across the mesh.
    addresses: dict[str, str] = field(default_factory=default_addresses)
    log_level: str = "INFO"
    log_format: str = "text"  # or json (one object per line, for a log shipper)
    # The gateway's HTTP listener (REST, OpenAPI); None: no HTTP.
    http_listen: str | None = None
    # The gateway's browser port on HTTPS with this certificate and key (both, or neither: HTTP,
    # for loopback or behind a proxy that ends TLS).
    http_tls_cert: Path | None = None
    http_tls_key: Path | None = None
    # Where this process serves Prometheus /metrics; None: not served (the gateway's HTTP has it too).
    metrics_listen: str | None = None
    # Browser origins allowed to call the REST API (the web app's, when served elsewhere).
    cors_origins: tuple[str, ...] = ()
    # Requests per second per caller at the gateway (a token bucket; 0: unlimited), and the burst.
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 40
    # The web app the gateway serves at / (default: web/dist of this checkout, when built).
    static_dir: Path | None = None
    # Per venue id, where a venue is reached other than at its public address (a testnet, a
    # gateway, the simulator): VENUE_URLS (see venue_urls_from_json).
    venue_urls: dict[str, str | dict] = field(default_factory=dict)
    # ccxt's own rate limiter; off only for benchmarks against the simulator.
    venue_rate_limit: bool = True
    # How long a replication worker may hold a master fill before JetStream hands it to another
    # replica: the longest a crashed worker's copies wait.
    fill_ack_wait_s: float = 30.0
    # How many masters' fills one replication replica copies at once (each master's in order).
    # Each holds a database connection while it copies (PostgreSQL pools 30).
    copy_lanes: int = 8
    # Error recovery: how often due retries are looked for (0: never, for tests that drive it),
    # the schedules by error type (RETRY_SCHEDULE_NETWORK="1,5,15", ...), and how often every
    # active session is reconciled (0: only at start-up and on demand).
    retry_poll_s: float = 1.0
    retry_schedules: dict[str, str] = field(default_factory=dict)
    reconcile_interval_s: float = 300.0
    # A master's fill stream down for longer than this triggers its followers' outage policies.
    feed_outage_grace_s: float = 5.0
    # How often followers' equity is read from their venues for risk's loss breakers (0: never).
    snapshot_interval_s: float = 60.0
    # How long a replica's lease on its background jobs outlives it (replication's ownership):
    # the longest a dead replica's master watchers stay unwatched before another takes over.
    lease_ttl_s: float = 6.0
    # How often gRPC health re-checks the service's database and NATS connection (0: never;
    # health then stays SERVING from start to stop).
    health_check_s: float = 2.0
    # OpenTelemetry traces: none (off), otlp (to OTEL_EXPORTER_OTLP_ENDPOINT) or console.
    otel_exporter: str = "none"
    # The service's event loop: uvloop (libuv; ccxt already depends on it) spends less CPU per
    # socket read and timer than asyncio's own loop, which the copy path is full of; asyncio
    # for the standard loop.
    event_loop: str = "uvloop"
    # How often compliance signs a checkpoint of the audit chain's head while it grows (0: only
    # at shutdown): the most recent records a truncation could remove unseen by the checkpoints.
    audit_checkpoint_interval_s: float = 60.0
    # Mutual TLS on this service's gRPC port, its calls to other services and its NATS
    # connection (TLS_CA, TLS_CERT, TLS_KEY); None: plaintext.
    tls: TlsFiles | None = None
    # Compliance: the master key being retired by a rotation (read with, never written with);
    # the risk disclosure's current version, which a follower must have accepted; emails given
    # the operator role when they register (the first operators); the networks whose forwarded
    # client addresses are believed; and the login throttle (failures let through per account
    # and per address before a back-off that doubles from base to max).
    master_key_previous: str = field(default="", repr=False)
    risk_disclosure_version: str = "2026-01"
    operator_emails: frozenset[str] = frozenset()
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES
    login_free_failures_account: int = 5
    login_free_failures_address: int = 20
    login_backoff_base_s: float = 15.0
    login_backoff_max_s: float = 900.0
    # Risk's platform defaults overriding the built-in ones, by limit name, as written
    # (RISK_DEFAULT_<LIMIT>, or the seed's MAX_DAILY_LOSS, MAX_DRAWDOWN, CIRCUIT_BREAKER_ENABLED):
    # parsed and checked by services/domain/risk/limits.platform_defaults.
    risk_defaults: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, service: str, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        addresses = default_addresses(
            env.get("COPYTRADE_HOST", "127.0.0.1"), int(env.get("COPYTRADE_PORT_BASE", DEFAULT_PORT_BASE))
        )
        for name in SERVICES:
            addresses[name] = env.get(f"{name.upper()}_ADDR", addresses[name])
        return cls(
            service=service,
            data_dir=Path(env.get("COPYTRADE_DATA_DIR", default_data_dir())),
            database_url=env.get(f"{service.upper()}_DATABASE_URL") or env.get("DATABASE_URL") or None,
            nats_url=env.get("NATS_URL", cls.nats_url),
            stream_replicas=int(env.get("NATS_STREAM_REPLICAS", cls.stream_replicas)),
            nats_user=env.get("NATS_USER") or None,
            nats_password=env.get("NATS_PASSWORD") or None,
            master_key=env.get("MASTER_KEY", DEV_SECRET),
            jwt_secret=env.get("JWT_SECRET", DEV_SECRET),
            fill_signing_key=env.get("FILL_SIGNING_KEY") or None,
            fill_verify_key=env.get("FILL_VERIFY_KEY") or None,
            listen=env.get("LISTEN_ADDR", addresses[service] if service in addresses else "127.0.0.1:0"),
            addresses=addresses,
            log_level=env.get("LOG_LEVEL", "INFO"),
            http_listen=env.get("GATEWAY_HTTP_ADDR") or None,
            http_tls_cert=Path(env["GATEWAY_HTTP_TLS_CERT"]) if env.get("GATEWAY_HTTP_TLS_CERT") else None,
            http_tls_key=Path(env["GATEWAY_HTTP_TLS_KEY"]) if env.get("GATEWAY_HTTP_TLS_KEY") else None,
            metrics_listen=env.get("METRICS_ADDR") or None,
            cors_origins=tuple(o.strip() for o in env.get("GATEWAY_CORS_ORIGINS", "").split(",") if o.strip()),
            rate_limit_per_s=float(env.get("GATEWAY_RATE_LIMIT_PER_S", cls.rate_limit_per_s)),
            rate_limit_burst=int(env.get("GATEWAY_RATE_LIMIT_BURST", cls.rate_limit_burst)),
            static_dir=Path(env["GATEWAY_STATIC_DIR"]) if env.get("GATEWAY_STATIC_DIR") else None,
            venue_urls=venue_urls_from_json(env.get("VENUE_URLS") or "{}"),
            venue_rate_limit=env.get("VENUE_RATE_LIMIT", "true").lower() != "false",
            fill_ack_wait_s=float(env.get("FILL_ACK_WAIT_S", cls.fill_ack_wait_s)),
            copy_lanes=int(env.get("COPY_LANES", cls.copy_lanes)),
            retry_poll_s=float(env.get("RETRY_POLL_S", cls.retry_poll_s)),
            retry_schedules={k: v for k, v in env.items() if k.startswith("RETRY_SCHEDULE_")},
            reconcile_interval_s=float(env.get("RECONCILE_INTERVAL_S", cls.reconcile_interval_s)),
            feed_outage_grace_s=float(env.get("FEED_OUTAGE_GRACE_S", cls.feed_outage_grace_s)),
            health_check_s=float(env.get("HEALTH_CHECK_S", cls.health_check_s)),
            snapshot_interval_s=float(env.get("SNAPSHOT_INTERVAL_S", cls.snapshot_interval_s)),
            lease_ttl_s=float(env.get("LEASE_TTL_S", cls.lease_ttl_s)),
            otel_exporter=env.get("OTEL_TRACES_EXPORTER", cls.otel_exporter).lower(),
            event_loop=env.get("EVENT_LOOP", cls.event_loop).lower(),
            audit_checkpoint_interval_s=float(env.get("AUDIT_CHECKPOINT_INTERVAL_S",
                                                      cls.audit_checkpoint_interval_s)),
            tls=tls_from_env(env),
            master_key_previous=env.get("MASTER_KEY_PREVIOUS", ""),
            risk_disclosure_version=env.get("RISK_DISCLOSURE_VERSION", cls.risk_disclosure_version),
            operator_emails=frozenset(e.strip().lower() for e in env.get("COPYTRADE_OPERATOR_EMAILS", "").split(",")
                                      if e.strip()),
            trusted_proxies=env.get("COMPLIANCE_TRUSTED_PROXIES", cls.trusted_proxies),
            login_free_failures_account=int(env.get("LOGIN_FREE_FAILURES_ACCOUNT", cls.login_free_failures_account)),
            login_free_failures_address=int(env.get("LOGIN_FREE_FAILURES_ADDRESS", cls.login_free_failures_address)),
            login_backoff_base_s=float(env.get("LOGIN_BACKOFF_BASE_S", cls.login_backoff_base_s)),
            login_backoff_max_s=float(env.get("LOGIN_BACKOFF_MAX_S", cls.login_backoff_max_s)),
            risk_defaults=risk_defaults_from_env(env),
            log_format=env.get("LOG_FORMAT", cls.log_format).lower(),
        )

    @property
    def uses_dev_secrets(self) -> bool:
        return self.jwt_secret == DEV_SECRET or self.master_key == DEV_SECRET
