"""The descriptor set tools/codegen.py writes into the API package: every .proto file (ours and
what they import) with its comments. The generated modules' descriptors have none: protoc
leaves source_code_info out of them, and upb's CopyToProto drops it from any pool. The
gateway's OpenAPI and every service's server reflection take the comments from here."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

import copytrade

DESCRIPTOR_SET = Path(copytrade.__file__).parent / "descriptor_set.binpb"


@lru_cache(maxsize=1)
def files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Every file of the set by its name."""
    found = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    return {file.name: file for file in found.file}


def _default_json_name(name: str) -> str:
    """protoc's: each letter after an underscore upper-cased, the underscores dropped."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _as_generated(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """The file without the default json_names protoc writes into a descriptor set (the
    generated modules carry none): grpcurl names fields by a json_name it finds, and its
    replies would change from max_daily_loss to maxDailyLoss. A declared one stays."""
    file = descriptor_pb2.FileDescriptorProto.FromString(file.SerializeToString())

    def clear(fields) -> None:
        for f in fields:
            if f.json_name == _default_json_name(f.name):
                f.ClearField("json_name")

    def walk(messages) -> None:
        for message in messages:
            clear(message.field)
            clear(message.extension)
            walk(message.nested_type)

    clear(file.extension)
    walk(file.message_type)
    return file


@lru_cache(maxsize=1)
def _serialized() -> dict[str, bytes]:
    return {name: _as_generated(file).SerializeToString() for name, file in files().items()}


def _commented(serialized: bytes) -> bytes:
    name = descriptor_pb2.FileDescriptorProto.FromString(serialized).name
    return _serialized().get(name, serialized)


class _CommentedReflection(reflection.aio.ReflectionServicer):
    """grpc_reflection's servicer, which finds a symbol's file and its imports in the default
    pool, sending each file the set holds as the set has it: `grpcurl describe` shows comments.
    Files outside the set (grpc.health's) go as the pool has them."""

    async def ServerReflectionInfo(self, request_iterator, context):
        async for response in super().ServerReflectionInfo(request_iterator, context):
            if response.HasField("file_descriptor_response"):
                protos = response.file_descriptor_response.file_descriptor_proto
                protos[:] = [_commented(proto) for proto in protos]
            yield response


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(_CommentedReflection(service_names), server)
