"""Prometheus metrics, one registry per process, served at /metrics (METRICS_ADDR per service;
the gateway also serves them on its HTTP port). Labels carry the service, so processes that host
several services (tests) still tell them apart."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Latencies of a copy path that aims at milliseconds: fine buckets low, coarse ones high.
MS_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
              2.5, 5.0, 10.0)

GRPC_CALLS = Counter("copytrade_grpc_calls_total", "gRPC calls served, by method and outcome",
                     ["service", "method", "code"])
GRPC_SECONDS = Histogram("copytrade_grpc_call_seconds", "Time to serve a gRPC call", ["service", "method"],
                         buckets=MS_BUCKETS)
COPY_STAGE_SECONDS = Histogram(
    "copytrade_copy_stage_seconds", "Time from the master's fill to each stage of a copy "
    "(received by a worker, risk decided, sent, acknowledged by the venue)", ["venue", "stage"], buckets=MS_BUCKETS)
COPIES = Counter("copytrade_copies_total", "Copies by outcome (placed, refused, failed)", ["venue", "outcome"])
FILLS_REJECTED = Counter("copytrade_fills_rejected_total", "Events on master-fill subjects not copied, not being "
                         "a fill replication stored with that payload (forged, tampered), by reason", ["reason"])
FILLS_UNVERIFIED = Counter("copytrade_fills_unverified_total", "Master fills discovery or compliance refused for "
                           "want of replication's signature (FILL_UNSIGNED, FILL_BAD_SIGNATURE)", ["reason"])
REFUSALS = Counter("copytrade_copy_refusals_total", "Copies refused, by reason", ["reason"])
VENUES_OPEN = Gauge("copytrade_venue_connections", "Venue accounts this replication process holds open")
VENUE_ERRORS = Counter("copytrade_venue_errors_total", "Venue failures by class", ["venue", "kind"])
RETRIES_PENDING = Gauge("copytrade_retries_pending", "Error events waiting for a retry or a person, by type",
                        ["error_type"])
HTTP_REQUESTS = Counter("copytrade_http_requests_total", "REST requests the gateway answered, by method, route "
                        "template and status", ["method", "route", "status"])
HTTP_SECONDS = Histogram("copytrade_http_request_seconds", "Time to answer a REST request (a stream: its whole "
                         "life)", ["method", "route", "status"], buckets=MS_BUCKETS)
CONSUMER_PENDING = Gauge("copytrade_consumer_pending_messages", "Messages a JetStream consumer has not yet taken",
                         ["stream", "consumer"])


async def metrics_page(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


async def serve_metrics(listen: str) -> tuple[web.AppRunner, int]:
    """An HTTP listener with /metrics only; returns it (to clean up) and its port."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = listen.rsplit(":", 1)
    site = web.TCPSite(runner, host, int(port))
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]
