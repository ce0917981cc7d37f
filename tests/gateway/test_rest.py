"""The REST facade, from the outside: JSON over HTTP to real services, errors as grpc-gateway
maps them, OpenAPI from the same descriptors, a pinned route table, and SSE for live feeds."""

import asyncio
import json
import os
import uuid
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from copytrade.replication.v1 import replication_events_pb2 as events
from copytrade.type.v1 import trading_pb2
from services.gateway.routes import route_table
from services.kit.bus import Bus

GOLDEN = Path(__file__).with_name("routes.golden.json")
PASSWORD = "correct horse battery staple"


@pytest_asyncio.fixture
async def rest(start_service):
    started = {name: await start_service(name) for name in ("compliance", "risk", "replication")}
    addresses = {**started["risk"].settings.addresses, **{n: s.address for n, s in started.items()}}
    gateway = await start_service("gateway", addresses=addresses, http_listen="127.0.0.1:0")
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.running.http_port}") as http:
        yield http


async def login(http) -> tuple[str, dict]:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post("/v1/users", json={"email": email, "password": PASSWORD})
    assert created.status == 200, await created.text()
    reply = await (await http.post("/v1/auth:login", json={"email": email, "password": PASSWORD})).json()
    return reply["user"]["userId"], {"Authorization": f"Bearer {reply['accessToken']}"}


async def test_json_round_trip_through_the_services(rest):
    user, auth = await login(rest)
    reply = await rest.get(f"/v1/users/{user}/risk-limits", headers=auth)
    assert reply.status == 200
    body = await reply.json()
    assert body["limits"]["maxDailyLoss"] == "1000" and body["isDefault"] is True
    patched = await rest.patch(f"/v1/users/{user}/risk-limits?updateMask=maxDailyLoss", headers=auth,
                               json={"maxDailyLoss": "250", "max_leverage": "3"})  # both spellings in
    assert patched.status == 200, await patched.text()
    again = await (await rest.get(f"/v1/users/{user}/risk-limits", headers=auth)).json()
    assert again["limits"]["maxDailyLoss"] == "250" and again["limits"]["maxLeverage"] == "10"


@pytest.mark.parametrize("case", ["no-token", "someone-else", "not-found", "no-route", "bad-json", "unknown-field",
                                  "wrong-type", "bad-query"])
async def test_errors_are_json_with_the_mapped_status(rest, case):
    user, auth = await login(rest)
    other, _ = await login(rest)
    request = {
        "no-token": ("GET", f"/v1/users/{user}/risk-limits", {}, None, 401, "AUTH_REQUIRED"),
        "someone-else": ("GET", f"/v1/users/{other}/risk-limits", auth, None, 403, "NOT_OWNER"),
        "not-found": ("GET", "/api/copy-trading/status/cs_nope", auth, None, 404, "SESSION_NOT_FOUND"),
        "no-route": ("GET", "/v1/nothing-here", auth, None, 404, None),
        "bad-json": ("POST", "/api/copy-trading/start", auth, b"{not json", 400, "INVALID_REQUEST"),
        "unknown-field": ("POST", "/api/copy-trading/start", auth, b'{"followerAccountId": "a", "bogus": 1}', 400,
                          "INVALID_REQUEST"),
        "wrong-type": ("POST", "/api/copy-trading/start", auth, b'{"settings": 7}', 400, "INVALID_REQUEST"),
        "bad-query": ("GET", "/v1/venue-accounts?pageSize=lots", auth, None, 400, "INVALID_REQUEST"),
    }[case]
    verb, path, headers, body, status, reason = request
    reply = await rest.request(verb, path, headers=headers, data=body)
    assert reply.status == status, await reply.text()
    payload = await reply.json()
    assert set(payload) == {"code", "message", "details"} and payload["message"]
    if reason:
        assert payload["details"][0]["reason"] == reason
    if case in ("unknown-field", "bad-query"):
        assert payload["details"][0]["metadata"]["field"] in ("bogus", "pageSize", "page_size")


async def test_the_seed_endpoints_are_routed(rest):
    user, auth = await login(rest)
    reply = await rest.post("/api/copy-trading/start", headers=auth, json={
        "followerAccountId": "acc_missing", "masterAccountId": "acc_missing",
        "settings": {"sizingMode": "SIZING_MODE_MULTIPLIER", "multiplier": "2"}})
    assert reply.status == 404  # reached replication, which says what is missing
    assert (await reply.json())["details"][0]["reason"] == "ACCOUNT_NOT_FOUND"
    for verb, path in (("POST", "/api/copy-trading/stop"), ("POST", "/api/copy-trading/pause"),
                       ("POST", "/api/copy-trading/resume")):
        reply = await rest.request(verb, path, headers=auth, json={"configId": "cs_missing"})
        assert reply.status == 404, path


async def test_openapi_lists_every_annotated_rpc_and_health_reports_backends(rest):
    document = await (await rest.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert len(operations) == len(route_table())
    start = document["paths"]["/api/copy-trading/start"]["post"]
    assert start["summary"].startswith("Starts copying a master")  # the .proto comment
    assert start["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("StartCopySessionRequest")
    health = await (await rest.get("/healthz")).json()
    assert health["services"]["risk"] == "SERVING"


def test_route_table_is_pinned():
    """buf breaking does not see google.api.http: this golden file guards the REST paths.
    UPDATE_GOLDEN=1 rewrites it after a deliberate change."""
    table = sorted(f"{r.verb} {r.template} -> {r.grpc_path}" for r in route_table())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(table, indent=1) + "\n")
    assert table == json.loads(GOLDEN.read_text())


async def test_copy_events_arrive_as_server_sent_events(rest, nats_server):
    user, auth = await login(rest)
    bus = await Bus.connect(nats_server.url, "sse-test")
    try:
        async with rest.get("/v1/copy-events:stream", headers=auth) as stream:
            assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
            refused = events.CopyRefused(order=events.FollowerOrder(order_id="o1", follower_id=user),
                                         refusal=trading_pb2.Refusal(reason="SYMBOL_DENIED", message="denied"))
            await bus.publish(f"copies.order.refused.{user}", refused, msg_id=f"sse-{uuid.uuid4().hex}")
            line = b""
            while not line.startswith(b"data: "):
                line = await asyncio.wait_for(stream.content.readline(), 5)
            event = json.loads(line[6:])["event"]
            assert event["refused"]["refusal"]["reason"] == "SYMBOL_DENIED"
    finally:
        await bus.close()


async def test_a_stream_refused_up_front_is_a_plain_http_error(rest):
    reply = await rest.get("/v1/copy-events:stream")
    assert reply.status == 401
    assert (await reply.json())["details"][0]["reason"] == "AUTH_REQUIRED"


async def test_rest_requests_are_counted_by_route_template(rest):
    """/metrics: REST calls by method, route template (never the raw path: ids would explode the
    label set) and status, with their latency."""
    from prometheus_client.parser import text_string_to_metric_families

    user, auth = await login(rest)
    assert (await rest.get(f"/v1/users/{user}/risk-limits", headers=auth)).status == 200
    assert (await rest.get("/v1/users/someone-else/risk-limits", headers=auth)).status == 403
    assert (await rest.get("/v1/nothing-here", headers=auth)).status == 404
    text = await (await rest.get("/metrics")).text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    template = "/v1/users/{user_id}/risk-limits"
    for status, path in (("200", template), ("403", template), ("404", "unmatched")):
        labels = (("method", "GET"), ("route", path), ("status", status))
        assert samples.get(("copytrade_http_requests_total", labels), 0) >= 1, status
        assert samples.get(("copytrade_http_request_seconds_count", labels), 0) >= 1, status
    assert not any(user in str(labels) for _, labels in samples)


async def next_sse(stream) -> dict[str, str]:
    """The next Server-Sent Event's fields (id, event, data), comments and keep-alives skipped."""
    fields: dict[str, str] = {}
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 5)).decode().rstrip("\n")
        if not line:
            if fields:
                return fields
            continue
        name, _, value = line.partition(":")
        if name:
            fields[name] = value.removeprefix(" ")


async def test_a_reconnecting_event_stream_resumes_after_its_last_event_id(rest, nats_server):
    """Each event carries an id (its COPIES stream sequence); a client reconnecting with
    Last-Event-ID gets the events after it, none lost and none twice. Copies carry their latency."""
    user, auth = await login(rest)
    bus = await Bus.connect(nats_server.url, "sse-resume-test")
    try:
        async with rest.get("/v1/copy-events:stream", headers=auth) as stream:
            for n in range(3):
                order = events.FollowerOrder(order_id=f"o{n}", follower_id=user)
                order.master_fill_time.FromMilliseconds(1_700_000_000_000)
                order.ack_time.FromMilliseconds(1_700_000_000_000 + 40 + n)
                await bus.publish(f"copies.order.placed.{user}", events.FollowerOrderPlaced(order=order),
                                  msg_id=f"sse-{uuid.uuid4().hex}")
            first, second = await next_sse(stream), await next_sse(stream)
        event = json.loads(first["data"])["event"]
        assert event["placed"]["order"]["orderId"] == "o0" and event["copyLatencyMs"] == 40
        assert first["id"] and int(second["id"]) > int(first["id"])
        async with rest.get("/v1/copy-events:stream", headers={**auth, "Last-Event-ID": first["id"]}) as again:
            resumed = [await next_sse(again) for _ in range(2)]
        assert [r["id"] for r in resumed][0] == second["id"]
        assert [json.loads(r["data"])["event"]["placed"]["order"]["orderId"] for r in resumed] == ["o1", "o2"]
        refused = await rest.get("/v1/copy-events:stream", headers={**auth, "Last-Event-ID": "-1"})
        assert refused.status == 400 and (await refused.json())["details"][0]["metadata"]["field"] == "Last-Event-ID"
    finally:
        await bus.close()
