"""The Functions host<->worker gRPC messages (FunctionRpc.proto), built at run time from a table.

The rule it keeps: field names and numbers are those of the published FunctionRpc.proto
(Azure/azure-functions-language-worker-protobuf), so what goes over the wire is the real
protocol; only the messages the host and the Python worker library exchange here are
declared (a peer's unknown fields are skipped by protobuf, as it does for any older
schema). Built with the protobuf runtime API (no generated code, no grpcio-tools), it is
imported both by the host (kfx-notebook) and by the proxy in the worker's interpreter.
"""

from __future__ import annotations

import types

PACKAGE = "AzureFunctionsRpcMessages"
EVENT_STREAM = f"/{PACKAGE}.FunctionRpc/EventStream"

# enum name -> (value name, number) ...; nested enums are written Message.Enum
ENUMS = {
    "StatusResult.Status": [("Failure", 0), ("Success", 1), ("Cancelled", 2)],
    "BindingInfo.Direction": [("in", 0), ("out", 1), ("inout", 2)],
    "BindingInfo.DataType": [("undefined", 0), ("string", 1), ("binary", 2), ("stream", 3)],
    "RpcLog.Level": [("Trace", 0), ("Debug", 1), ("Information", 2), ("Warning", 3), ("Error", 4),
                     ("Critical", 5), ("None", 6)],
    "RpcLog.RpcLogCategory": [("User", 0), ("System", 1), ("CustomMetric", 2)],
    "RpcRetryOptions.RetryStrategy": [("exponential_backoff", 0), ("fixed_delay", 1)],
    "RpcHttpCookie.SameSite": [("None", 0), ("Lax", 1), ("Strict", 2), ("ExplicitNone", 3)],
    "RpcDataType": [("unknown", 0), ("string", 1), ("json", 2), ("bytes", 3), ("stream", 4), ("http", 5),
                    ("int", 6), ("double", 7), ("collection_bytes", 8), ("collection_string", 9),
                    ("collection_double", 10), ("collection_sint64", 11)],
}

# message -> fields: (name, number, type[, "repeated" | "oneof:NAME"]); type is a scalar, a message,
# an enum (from ENUMS) or map<K,V>
MESSAGES = {
    "StreamingMessage": [
        ("request_id", 1, "string"),
        ("start_stream", 20, "StartStream", "oneof:content"),
        ("worker_init_request", 17, "WorkerInitRequest", "oneof:content"),
        ("worker_init_response", 16, "WorkerInitResponse", "oneof:content"),
        ("worker_status_request", 12, "WorkerStatusRequest", "oneof:content"),
        ("worker_status_response", 13, "WorkerStatusResponse", "oneof:content"),
        ("function_load_request", 8, "FunctionLoadRequest", "oneof:content"),
        ("function_load_response", 9, "FunctionLoadResponse", "oneof:content"),
        ("invocation_request", 4, "InvocationRequest", "oneof:content"),
        ("invocation_response", 5, "InvocationResponse", "oneof:content"),
        ("rpc_log", 2, "RpcLog", "oneof:content"),
        ("functions_metadata_request", 29, "FunctionsMetadataRequest", "oneof:content"),
        ("function_metadata_response", 30, "FunctionMetadataResponse", "oneof:content"),
    ],
    "StartStream": [("worker_id", 2, "string")],
    "WorkerInitRequest": [
        ("host_version", 1, "string"), ("capabilities", 2, "map<string,string>"),
        ("worker_directory", 4, "string"), ("function_app_directory", 5, "string"),
    ],
    "WorkerInitResponse": [
        ("worker_version", 1, "string"), ("capabilities", 2, "map<string,string>"),
        ("result", 3, "StatusResult"), ("worker_metadata", 4, "WorkerMetadata"),
    ],
    "WorkerMetadata": [
        ("runtime_name", 1, "string"), ("runtime_version", 2, "string"), ("worker_version", 3, "string"),
        ("worker_bitness", 4, "string"), ("custom_properties", 5, "map<string,string>"),
    ],
    "StatusResult": [
        ("status", 4, "StatusResult.Status"), ("result", 1, "string"), ("exception", 2, "RpcException"),
        ("logs", 3, "RpcLog", "repeated"),
    ],
    "RpcException": [
        ("source", 3, "string"), ("stack_trace", 1, "string"), ("message", 2, "string"),
        ("is_user_exception", 4, "bool"), ("type", 5, "string"),
    ],
    "RpcLog": [
        ("invocation_id", 1, "string"), ("category", 2, "string"), ("level", 3, "RpcLog.Level"),
        ("message", 4, "string"), ("event_id", 5, "string"), ("exception", 6, "RpcException"),
        ("properties", 7, "string"), ("log_category", 8, "RpcLog.RpcLogCategory"),
    ],
    "WorkerStatusRequest": [],
    "WorkerStatusResponse": [],
    "FunctionsMetadataRequest": [("function_app_directory", 1, "string")],
    "FunctionMetadataResponse": [
        ("function_metadata_results", 1, "RpcFunctionMetadata", "repeated"), ("result", 2, "StatusResult"),
        ("use_default_metadata_indexing", 3, "bool"),
    ],
    "RpcFunctionMetadata": [
        ("name", 4, "string"), ("directory", 1, "string"), ("script_file", 2, "string"),
        ("entry_point", 3, "string"), ("bindings", 6, "map<string,BindingInfo>"), ("is_proxy", 7, "bool"),
        ("status", 8, "StatusResult"), ("language", 9, "string"), ("raw_bindings", 10, "string", "repeated"),
        ("function_id", 13, "string"), ("managed_dependency_enabled", 14, "bool"),
        ("retry_options", 15, "RpcRetryOptions"), ("properties", 16, "map<string,string>"),
    ],
    "RpcRetryOptions": [
        ("max_retry_count", 2, "int32"), ("delay_interval", 3, ".google.protobuf.Duration"),
        ("minimum_interval", 4, ".google.protobuf.Duration"), ("maximum_interval", 5, ".google.protobuf.Duration"),
        ("retry_strategy", 6, "RpcRetryOptions.RetryStrategy"),
    ],
    "BindingInfo": [
        ("type", 2, "string"), ("direction", 3, "BindingInfo.Direction"), ("data_type", 4, "BindingInfo.DataType"),
        ("properties", 5, "map<string,string>"),
    ],
    "FunctionLoadRequest": [
        ("function_id", 1, "string"), ("metadata", 2, "RpcFunctionMetadata"),
        ("managed_dependency_enabled", 3, "bool"),
    ],
    "FunctionLoadResponse": [
        ("function_id", 1, "string"), ("result", 2, "StatusResult"), ("is_dependency_downloaded", 3, "bool"),
    ],
    "InvocationRequest": [
        ("invocation_id", 1, "string"), ("function_id", 2, "string"),
        ("input_data", 3, "ParameterBinding", "repeated"), ("trigger_metadata", 4, "map<string,TypedData>"),
        ("trace_context", 5, "RpcTraceContext"), ("retry_context", 6, "RetryContext"),
    ],
    "RpcTraceContext": [
        ("trace_parent", 1, "string"), ("trace_state", 2, "string"), ("attributes", 3, "map<string,string>"),
    ],
    "RetryContext": [
        ("retry_count", 1, "int32"), ("max_retry_count", 2, "int32"), ("exception", 3, "RpcException"),
    ],
    "InvocationResponse": [
        ("invocation_id", 1, "string"), ("output_data", 2, "ParameterBinding", "repeated"),
        ("return_value", 4, "TypedData"), ("result", 3, "StatusResult"),
    ],
    "TypedData": [
        ("string", 1, "string", "oneof:data"), ("json", 2, "string", "oneof:data"),
        ("bytes", 3, "bytes", "oneof:data"), ("stream", 4, "bytes", "oneof:data"),
        ("http", 5, "RpcHttp", "oneof:data"), ("int", 6, "sint64", "oneof:data"),
        ("double", 7, "double", "oneof:data"), ("collection_bytes", 8, "CollectionBytes", "oneof:data"),
        ("collection_string", 9, "CollectionString", "oneof:data"),
        ("collection_double", 10, "CollectionDouble", "oneof:data"),
        ("collection_sint64", 11, "CollectionSInt64", "oneof:data"),
    ],
    "CollectionString": [("string", 1, "string", "repeated")],
    "CollectionBytes": [("bytes", 1, "bytes", "repeated")],
    "CollectionDouble": [("double", 1, "double", "repeated")],
    "CollectionSInt64": [("sint64", 1, "sint64", "repeated")],
    "RpcSharedMemory": [
        ("name", 1, "string"), ("offset", 2, "int64"), ("count", 3, "int64"), ("type", 4, "RpcDataType"),
    ],
    "ParameterBinding": [
        ("name", 1, "string"), ("data", 2, "TypedData", "oneof:rpc_data"),
        ("rpc_shared_memory", 3, "RpcSharedMemory", "oneof:rpc_data"),
    ],
    "RpcHttpCookie": [
        ("name", 1, "string"), ("value", 2, "string"), ("domain", 3, "NullableString"),
        ("path", 4, "NullableString"), ("expires", 5, "NullableTimestamp"), ("secure", 6, "NullableBool"),
        ("http_only", 7, "NullableBool"), ("same_site", 8, "RpcHttpCookie.SameSite"),
        ("max_age", 9, "NullableDouble"),
    ],
    "RpcHttp": [
        ("method", 1, "string"), ("url", 2, "string"), ("headers", 3, "map<string,string>"),
        ("body", 4, "TypedData"), ("params", 10, "map<string,string>"), ("status_code", 12, "string"),
        ("query", 15, "map<string,string>"), ("enable_content_negotiation", 16, "bool"),
        ("rawBody", 17, "TypedData"), ("cookies", 19, "RpcHttpCookie", "repeated"),
        ("nullable_headers", 20, "map<string,NullableString>"),
        ("nullable_params", 21, "map<string,NullableString>"),
        ("nullable_query", 22, "map<string,NullableString>"),
    ],
    # shared/NullableTypes.proto
    "NullableString": [("value", 1, "string", "oneof:string")],
    "NullableDouble": [("value", 1, "double", "oneof:double")],
    "NullableBool": [("value", 1, "bool", "oneof:bool")],
    "NullableTimestamp": [("value", 1, ".google.protobuf.Timestamp", "oneof:timestamp")],
}

_SCALARS = {"string": 9, "bytes": 12, "bool": 8, "int32": 5, "int64": 3, "sint64": 18, "double": 1}
_MESSAGE, _ENUM, _OPTIONAL, _REPEATED = 11, 14, 1, 3


def _set_type(field, type_name: str) -> None:
    if type_name in _SCALARS:
        field.type = _SCALARS[type_name]
    elif type_name in ENUMS:
        field.type, field.type_name = _ENUM, f".{PACKAGE}.{type_name}"
    elif type_name.startswith("."):
        field.type, field.type_name = _MESSAGE, type_name
    else:
        field.type, field.type_name = _MESSAGE, f".{PACKAGE}.{type_name}"


def _map_entry(message, field_name: str, key: str, value: str) -> str:
    entry = message.nested_type.add(name="".join(p.title() for p in field_name.split("_")) + "Entry")
    entry.options.map_entry = True
    for number, (name, type_name) in enumerate((("key", key), ("value", value)), 1):
        field = entry.field.add(name=name, number=number, label=_OPTIONAL)
        _set_type(field, type_name)
    return f"{message.name}.{entry.name}"


def _file_descriptor():
    from google.protobuf import descriptor_pb2

    proto = descriptor_pb2.FileDescriptorProto(name="kfx_notebook/FunctionRpc.proto", package=PACKAGE,
                                               syntax="proto3", dependency=["google/protobuf/duration.proto",
                                                           "google/protobuf/timestamp.proto"])
    nested_enums: dict[str, list] = {}
    for enum_name, values in ENUMS.items():
        owner, _, short = enum_name.rpartition(".")
        nested_enums.setdefault(owner, []).append((short, values))
    for name, fields in MESSAGES.items():
        message = proto.message_type.add(name=name)
        for short, values in nested_enums.get(name, []):
            message.enum_type.add(name=short).value.extend(
                descriptor_pb2.EnumValueDescriptorProto(name=v, number=n) for v, n in values)
        oneofs: dict[str, int] = {}
        for field_name, number, type_name, *kind in fields:
            field = message.field.add(name=field_name, number=number, label=_OPTIONAL, json_name=field_name)
            kind = kind[0] if kind else ""
            if type_name.startswith("map<"):
                key, value = type_name[4:-1].split(",")
                field.label, field.type = _REPEATED, _MESSAGE
                field.type_name = f".{PACKAGE}.{_map_entry(message, field_name, key, value)}"
                continue
            _set_type(field, type_name)
            if kind == "repeated":
                field.label = _REPEATED
            elif kind.startswith("oneof:"):
                group = kind[6:]
                if group not in oneofs:
                    oneofs[group] = len(message.oneof_decl)
                    message.oneof_decl.add(name=group)
                field.oneof_index = oneofs[group]
    for short, values in nested_enums.get("", []):
        proto.enum_type.add(name=short).value.extend(
            descriptor_pb2.EnumValueDescriptorProto(name=v, number=n) for v, n in values)
    return proto


_PROTOS: types.SimpleNamespace | None = None


def protos() -> types.SimpleNamespace:
    """The message classes by name (protos.StreamingMessage, protos.TypedData, ...), built once."""
    global _PROTOS
    if _PROTOS is None:
        from google.protobuf import descriptor_pool, duration_pb2, message_factory, timestamp_pb2

        pool = descriptor_pool.DescriptorPool()
        for well_known in (duration_pb2, timestamp_pb2):
            pool.AddSerializedFile(well_known.DESCRIPTOR.serialized_pb)
        descriptor = _file_descriptor()
        pool.Add(descriptor)
        file = pool.FindFileByName(descriptor.name)
        classes = {name: message_factory.GetMessageClass(file.message_types_by_name[name]) for name in MESSAGES}
        _PROTOS = types.SimpleNamespace(**classes)
    return _PROTOS
