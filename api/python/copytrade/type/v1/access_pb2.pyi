from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApiKeyScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_KEY_SCOPE_UNSPECIFIED: _ClassVar[ApiKeyScope]
    API_KEY_SCOPE_READ: _ClassVar[ApiKeyScope]
    API_KEY_SCOPE_TRADE: _ClassVar[ApiKeyScope]
    API_KEY_SCOPE_SIGNAL: _ClassVar[ApiKeyScope]
API_KEY_SCOPE_UNSPECIFIED: ApiKeyScope
API_KEY_SCOPE_READ: ApiKeyScope
API_KEY_SCOPE_TRADE: ApiKeyScope
API_KEY_SCOPE_SIGNAL: ApiKeyScope
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor

class Access(_message.Message):
    __slots__ = ("public", "api_key_scopes")
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    API_KEY_SCOPES_FIELD_NUMBER: _ClassVar[int]
    public: bool
    api_key_scopes: _containers.RepeatedScalarFieldContainer[ApiKeyScope]
    def __init__(self, public: _Optional[bool] = ..., api_key_scopes: _Optional[_Iterable[_Union[ApiKeyScope, str]]] = ...) -> None: ...
