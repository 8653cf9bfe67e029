"""The Go structs behind checkpoints and deployments, as data (P ``sdk/go/common/apitype/core.go``).

Two walks use these tables:

* :func:`decode` does what ``json.Unmarshal`` into the typed struct does to the *shape*: keys are
  matched to fields exactly, else case-insensitively (Go's rule, which very old files rely on), and
  a value of the wrong JSON type is an error. It only renames keys and checks types: the result
  shares every unchanged sub-object with the input and keeps unknown keys.
* :func:`encode` does what ``json.Marshal`` of the typed struct produces: fields in declaration
  order, ``omitempty`` applied, zero values for absent fields, map keys sorted, times normalised,
  integers beyond float64 precision rounded. It is how ``pulumi stack export`` re-serialises.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, TypeAlias, Union

from pulumi_diy.state.gojson import is_go_time, normalize_go_time


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    omitempty: bool = True


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[Field, ...]
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False, hash=False)
    by_folded: dict[str, Field] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "by_folded", {f.name.casefold(): f for f in self.fields})

    def lookup(self, key: str) -> Field | None:
        """The field a JSON key decodes into: exact name first, then case-folded (like Go)."""
        return self.by_name.get(key) or self.by_folded.get(key.casefold())


@dataclass(frozen=True)
class ListOf:
    item: Kind


@dataclass(frozen=True)
class MapOf:
    value: Kind


@dataclass(frozen=True)
class Ptr:
    target: Kind


# Scalar kinds: "str", "bool", "int", "float", "time" (time.Time), "bytes" ([]byte, base64),
# "any" (interface{}: property values), "raw" (json.RawMessage: copied verbatim).
Kind: TypeAlias = Union[str, Struct, ListOf, MapOf, Ptr]  # noqa: UP007 (a runtime alias on 3.10)

_STR_LIST = ListOf("str")


def _fields(*specs: tuple[str, Kind] | tuple[str, Kind, bool]) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


PLUGIN_INFO = Struct("PluginInfoV1", _fields(
    ("name", "str", False), ("path", "str", False), ("type", "str", False), ("version", "str", False)))
MANIFEST = Struct("ManifestV1", _fields(
    ("time", "time", False), ("magic", "str", False), ("version", "str", False),
    ("plugins", ListOf(PLUGIN_INFO))))
SECRETS_PROVIDERS = Struct("SecretsProvidersV1", _fields(("type", "str", False), ("state", "raw")))
CUSTOM_TIMEOUTS = Struct("CustomTimeouts", _fields(
    ("create", "float"), ("update", "float"), ("delete", "float"), ("read", "float")))
STACK_FRAME = Struct("StackFrameV1", _fields(("sourcePosition", "str")))
INTEGRITY_ERROR = Struct("SnapshotIntegrityErrorMetadataV1", _fields(
    ("version", "str"), ("command", "str"), ("error", "str"), ("env_vars", MapOf("str"))))
METADATA = Struct("SnapshotMetadataV1", _fields(("integrity_error", Ptr(INTEGRITY_ERROR))))
PARAMETERIZATION = Struct("ParameterizationDescriptorV1", _fields(
    ("name", "str", False), ("version", "str", False), ("value", "bytes", False)))
PACKAGE_DESCRIPTOR = Struct("PackageDescriptorV1", _fields(
    ("name", "str", False), ("version", Ptr("str")), ("downloadURL", "str"),
    ("parameterization", Ptr(PARAMETERIZATION))))
SNIPPET = Struct("SnippetV1", _fields(
    ("uuid", "str", False), ("name", "str", False), ("type", "str", False), ("code", "str", False),
    ("descriptor", PACKAGE_DESCRIPTOR, False), ("references", MapOf("str"))))
EXTENSION = Struct("Extension", _fields(
    ("name", "str", False), ("version", "str", False), ("value", "bytes", False)))

_URNS = ListOf("str")
_RESOURCE_HEAD = (("urn", "str", False), ("custom", "bool", False), ("delete", "bool"), ("id", "str"),
                  ("type", "str", False))
RESOURCE_V1 = Struct("ResourceV1", _fields(
    *_RESOURCE_HEAD, ("inputs", MapOf("any")), ("defaults", MapOf("any")), ("outputs", MapOf("any")),
    ("parent", "str"), ("protect", "bool"), ("dependencies", _URNS, False), ("initErrors", _STR_LIST, False)))
RESOURCE_V2 = Struct("ResourceV2", _fields(
    *_RESOURCE_HEAD, ("inputs", MapOf("any")), ("outputs", MapOf("any")), ("parent", "str"),
    ("protect", "bool"), ("external", "bool"), ("dependencies", _URNS), ("initErrors", _STR_LIST),
    ("provider", "str")))
RESOURCE_V3 = Struct("ResourceV3", _fields(
    *_RESOURCE_HEAD, ("inputs", MapOf("any")), ("outputs", MapOf("any")), ("parent", "str"),
    ("protect", "bool"), ("taint", "bool"), ("external", "bool"), ("dependencies", _URNS),
    ("initErrors", _STR_LIST), ("provider", "str"), ("propertyDependencies", MapOf(_URNS)),
    ("pendingReplacement", "bool"), ("additionalSecretOutputs", _STR_LIST), ("aliases", _URNS),
    ("customTimeouts", Ptr(CUSTOM_TIMEOUTS)), ("importID", "str"), ("retainOnDelete", "bool"),
    ("deletedWith", "str"), ("replaceWith", _URNS), ("created", Ptr("time")), ("modified", Ptr("time")),
    ("sourcePosition", "str"), ("stackTrace", ListOf(STACK_FRAME)), ("ignoreChanges", _STR_LIST),
    ("hideDiff", ListOf(ListOf("any"))), ("replaceOnChanges", _STR_LIST), ("replacementTrigger", "any"),
    ("refreshBeforeUpdate", "bool"), ("viewOf", "str"), ("resourceHooks", MapOf(_STR_LIST)),
    ("extensionRef", "str"), ("snippetID", "str")))
OPERATION_V1 = Struct("OperationV1", _fields(("resource", RESOURCE_V2, False), ("type", "str", False)))
OPERATION_V2 = Struct("OperationV2", _fields(("resource", RESOURCE_V3, False), ("type", "str", False)))
DEPLOYMENT_V1 = Struct("DeploymentV1", _fields(
    ("manifest", MANIFEST, False), ("resources", ListOf(RESOURCE_V1))))
DEPLOYMENT_V2 = Struct("DeploymentV2", _fields(
    ("manifest", MANIFEST, False), ("resources", ListOf(RESOURCE_V2)),
    ("pending_operations", ListOf(OPERATION_V1))))
DEPLOYMENT_V3 = Struct("DeploymentV3", _fields(
    ("manifest", MANIFEST, False), ("secrets_providers", Ptr(SECRETS_PROVIDERS)),
    ("resources", ListOf(RESOURCE_V3)), ("pending_operations", ListOf(OPERATION_V2)), ("metadata", METADATA),
    ("snippets", ListOf(SNIPPET)), ("extensions", MapOf(EXTENSION))))
# config.Map is kept verbatim: it is legacy and never written by current CLIs.
CHECKPOINT_V1 = Struct("CheckpointV1", _fields(
    ("stack", "str", False), ("config", "raw"), ("latest", Ptr(DEPLOYMENT_V1))))
CHECKPOINT_V2 = Struct("CheckpointV2", _fields(
    ("stack", "str", False), ("config", "raw"), ("latest", Ptr(DEPLOYMENT_V2))))
CHECKPOINT_V3 = Struct("CheckpointV3", _fields(
    ("stack", "str", False), ("config", "raw"), ("latest", Ptr(DEPLOYMENT_V3))))
VERSIONED_CHECKPOINT = Struct("VersionedCheckpoint", _fields(
    ("version", "int", False), ("features", _STR_LIST), ("checkpoint", "raw", False)))
UNTYPED_DEPLOYMENT = Struct("UntypedDeployment", _fields(
    ("version", "int"), ("features", _STR_LIST), ("deployment", "raw")))


class ShapeError(ValueError):
    """A JSON value does not fit the Go struct it is decoded into."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path

    def within(self, segment: str) -> ShapeError:
        """The same error seen from the enclosing value (paths are built only on failure)."""
        return ShapeError(self.problem, segment + self.path)

    def __str__(self) -> str:
        return f"{self.problem} at {self.path or '$'}"


_JSON_TYPE = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def _type_error(value: Any, want: str) -> ShapeError:
    got = _JSON_TYPE.get(type(value), type(value).__name__)
    return ShapeError(f"cannot unmarshal {got} into {want}")


def decode(value: Any, kind: Kind, path: str = "$") -> Any:
    """Check ``value`` against ``kind`` and rename struct keys to their Go field names.

    Returns ``value`` itself when nothing needed renaming; raises :class:`ShapeError` whose
    message names the JSON path (starting with ``path``).
    """
    try:
        return _decode(value, kind)
    except ShapeError as exc:
        raise exc.within(path) from None


def _decode(value: Any, kind: Kind) -> Any:
    if value is None:  # Go leaves the zero value for a JSON null, whatever the type
        return None
    if type(kind) is str:
        _check_scalar(value, kind)
        return value
    if type(kind) is Ptr:
        return _decode(value, kind.target)
    if type(kind) is ListOf:
        if type(value) is not list:
            raise _type_error(value, "array")
        item_kind = kind.item
        if item_kind == "any":
            return value
        changed = None
        for i, item in enumerate(value):
            try:
                decoded = _decode_element(item, item_kind)
            except ShapeError as exc:
                raise exc.within(f"[{i}]") from None
            if decoded is not item:
                changed = changed or list(value)
                changed[i] = decoded
        return value if changed is None else changed
    if type(kind) is MapOf:
        if type(value) is not dict:
            raise _type_error(value, "object")
        value_kind = kind.value
        if value_kind == "any":
            return value
        new_map = None
        for key, item in value.items():
            try:
                decoded = _decode_element(item, value_kind)
            except ShapeError as exc:
                raise exc.within(f".{key}") from None
            if decoded is not item:
                new_map = new_map or dict(value)
                new_map[key] = decoded
        return value if new_map is None else new_map
    assert isinstance(kind, Struct)
    return _decode_struct(value, kind)


def _decode_element(item: Any, kind: Kind) -> Any:
    # A null element of a []Struct or map[string]Struct is the zero struct to Go: give readers a dict.
    if item is None and type(kind) is Struct:
        return {}
    return _decode(item, kind)


def _decode_struct(value: Any, kind: Struct) -> Any:
    if type(value) is not dict:
        raise _type_error(value, f"object ({kind.name})")
    by_name = kind.by_name
    renamed = False
    decoded_values: dict[str, Any] = {}
    for key, item in value.items():
        spec = by_name.get(key)
        if spec is None:
            spec = kind.by_folded.get(key.casefold())
            if spec is None:  # unknown keys are ignored by Go; we keep them for round trips
                continue
            renamed = True
        field_kind = spec.kind
        if item is None or field_kind == "any" or field_kind == "raw":
            continue
        try:
            decoded = _decode(item, field_kind)
        except ShapeError as exc:
            raise exc.within(f".{spec.name}") from None
        if decoded is not item:
            decoded_values[key] = decoded
    if not renamed and not decoded_values:
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        spec = kind.lookup(key)
        out[spec.name if spec else key] = decoded_values.get(key, item)
    return out


def _check_scalar(value: Any, kind: str) -> None:
    if kind == "str":
        if type(value) is not str:
            raise _type_error(value, "string")
    elif kind == "bool":
        if type(value) is not bool:
            raise _type_error(value, "bool")
    elif kind == "time":
        if type(value) is not str:
            raise _type_error(value, "string")
        if not is_go_time(value):
            raise ShapeError(f"invalid RFC 3339 time {value!r}")
    elif kind == "bytes":
        if type(value) is not str:
            raise _type_error(value, "string")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ShapeError("invalid base64 data") from None
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(value, "int")
    elif kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _type_error(value, "float64")


_ZERO: dict[str, Any] = {"str": "", "bool": False, "int": 0, "float": 0, "time": "0001-01-01T00:00:00Z"}


def _is_empty(value: Any, kind: Kind) -> bool:
    """Go's omitempty test for a field value (structs and times are never empty)."""
    if value is None:
        return not isinstance(kind, Struct) and kind != "time"
    if isinstance(kind, (ListOf, MapOf)) or kind in ("str", "bytes"):
        return len(value) == 0
    if kind in ("bool", "int", "float"):
        return not value
    return False


def encode(value: Any, kind: Kind) -> Any:
    """Return ``value`` (already :func:`decode`-d) as Go's ``json.Marshal`` of the struct would
    lay it out, as plain dicts and lists ready for :func:`gojson.dumps`."""
    if isinstance(kind, Struct):
        src = value if isinstance(value, dict) else {}
        out: dict[str, Any] = {}
        for spec in kind.fields:
            item = src.get(spec.name)
            field_kind = spec.kind
            if item is None:
                # Most ResourceV3 fields are absent: settle them without the generic path.
                if spec.omitempty and type(field_kind) is not Struct and field_kind != "time":
                    continue
            elif field_kind in _VERBATIM:
                if not (spec.omitempty and not item):
                    out[spec.name] = item
                continue
            if spec.omitempty and _is_empty(item, field_kind):
                continue
            out[spec.name] = encode(item, field_kind)
        return out
    if value is None:
        return _ZERO.get(kind) if isinstance(kind, str) else None
    if isinstance(kind, Ptr):
        return encode(value, kind.target)
    if isinstance(kind, ListOf):
        return [encode(v, kind.item) for v in value]
    if isinstance(kind, MapOf):
        return {k: encode(value[k], kind.value) for k in sorted(value)}
    if kind == "time":
        return normalize_go_time(value)
    if kind == "any":
        return encode_any(value)
    if kind == "float":
        return _as_float64(value)
    return value


# Kinds whose values Go re-encodes unchanged, and whose omitempty test is plain falsiness.
_VERBATIM = frozenset({"str", "bool", "int", "bytes"})


def encode_any(value: Any) -> Any:
    """A property value after Go decoded it into ``interface{}`` and encoded it again: map keys
    sorted, numbers as float64."""
    kind = type(value)
    if kind is dict:
        return {k: _encode_item(value[k]) for k in sorted(value)}
    if kind is list:
        return [_encode_item(v) for v in value]
    if kind is int:
        return _as_float64(value)
    return value


def _encode_item(value: Any) -> Any:
    # Inline the common scalar cases: property bags hold millions of them.
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    return encode_any(value)


def _as_float64(value: int | float) -> int | float:
    # Integers that float64 cannot hold exactly are printed by Go as the nearest float64.
    if isinstance(value, int) and abs(value) > 2**53:
        try:
            return float(value) if float(value) != value else value
        except OverflowError:
            return value
    return value
