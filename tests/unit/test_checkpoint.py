"""Checkpoint parsing, migration, byte-identical re-encoding and export documents."""

from __future__ import annotations

import json
import string
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_diy.errors import CheckpointCorrupt, CorruptInput, UnsupportedFeature, UnsupportedVersion
from pulumi_diy.state import (
    COMPACT,
    INDENTED,
    Compression,
    compress,
    decompress,
    deployment_from_export,
    encode_checkpoint,
    export_document,
    new_checkpoint,
    new_checkpoint_doc,
    parse_checkpoint,
)
from pulumi_diy.state.schema import RESOURCE_V3

FIXTURES = ["checkpoint-v0.json", "checkpoint-v1.json", "checkpoint-v3.json", "checkpoint-v4.json",
            "checkpoint-secrets.json"]


def _fixture(upstream: Path, name: str) -> bytes:
    return (upstream / "pulumi" / "checkpoints" / name).read_bytes()


# --- upstream fixtures ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_upstream_fixtures_parse(upstream: Path, name: str) -> None:
    cp = parse_checkpoint(_fixture(upstream, name), name)
    assert cp.resource_count == 30
    assert cp.stack == ""
    assert cp.style.indent
    assert cp.manifest_time is None  # Go's zero time counts as absent
    assert cp.pulumi_version == ""
    assert not cp.is_stub
    assert cp.pending_operations == []
    assert cp.resources[0]["urn"] == "urn:pulumi:foo::countdown::aws:sns/topic:Topic::countDown"


def test_versions_and_features(upstream: Path) -> None:
    versions = {n: parse_checkpoint(_fixture(upstream, n), n) for n in FIXTURES}
    assert {n: cp.version for n, cp in versions.items()} == {
        "checkpoint-v0.json": 0, "checkpoint-v1.json": 1, "checkpoint-v3.json": 3, "checkpoint-v4.json": 4,
        "checkpoint-secrets.json": 3}
    assert versions["checkpoint-v4.json"].features == ["refreshBeforeUpdate"]
    assert versions["checkpoint-secrets.json"].secrets_providers == {"type": "b64", "state": {}}


def test_unsupported_feature_fixture(upstream: Path) -> None:
    name = "checkpoint-v4-unsupported-feature.json"
    with pytest.raises(UnsupportedFeature) as info:
        parse_checkpoint(_fixture(upstream, name), name)
    assert info.value.message == (
        f"{name}: checkpoint uses feature(s) unsupported-feature that pulumi-diy does not support")


@pytest.mark.parametrize("name", ["checkpoint-v0.json", "checkpoint-v1.json"])
def test_old_versions_are_migrated_to_v3(upstream: Path, name: str) -> None:
    cp = parse_checkpoint(_fixture(upstream, name), name)
    assert cp.latest is not None
    assert list(cp.latest) == ["manifest", "resources", "metadata"]
    assert cp.manifest == {"time": "0001-01-01T00:00:00Z", "magic": "", "version": ""}
    assert not any("defaults" in r for r in cp.resources)
    role = next(r for r in cp.resources if r["urn"].endswith("::countDown_watcher-iamrole"))
    # Go maps every input to the (nil) dependency list: printed as null.
    assert role["propertyDependencies"] == {"assumeRolePolicy": None}
    assert "defaults" in json.dumps(cp.doc)  # doc stays as stored


def test_migration_matches_upstream_v3_fixture(upstream: Path) -> None:
    """Upstream's v3 fixture is the v1 fixture migrated by Go (plus a b64 secrets provider)."""
    migrated = parse_checkpoint(_fixture(upstream, "checkpoint-v1.json"), "v1").latest
    expected = json.loads(_fixture(upstream, "checkpoint-v3.json"))["checkpoint"]["latest"]
    del expected["secrets_providers"]
    expected["metadata"] = {}
    assert json.dumps(migrated) == json.dumps(expected)  # same values and the same key order


@pytest.mark.parametrize("name", ["checkpoint-v0.json", "checkpoint-v3.json", "checkpoint-secrets.json"])
def test_go_shaped_fixtures_reencode_byte_identically(upstream: Path, name: str) -> None:
    data = _fixture(upstream, name)
    cp = parse_checkpoint(data, name)
    assert cp.html_escape  # these files were written by json.Marshal: "\u003c" etc.
    assert encode_checkpoint(cp) == data


def test_export_of_v3_fixture(upstream: Path) -> None:
    data = _fixture(upstream, "checkpoint-v3.json")
    latest = json.loads(data)["checkpoint"]["latest"]
    latest["metadata"] = {}  # Go's typed marshal always writes the metadata struct
    expected = json.dumps({"version": 3, "deployment": latest}, indent=4, ensure_ascii=False) + "\n"
    assert export_document(parse_checkpoint(data, "v3")) == expected.encode()


def test_export_of_v4_and_v0(upstream: Path) -> None:
    v4 = json.loads(export_document(parse_checkpoint(_fixture(upstream, "checkpoint-v4.json"), "v4")))
    assert list(v4) == ["version", "features", "deployment"]
    assert (v4["version"], v4["features"]) == (4, ["refreshBeforeUpdate"])
    v0 = json.loads(export_document(parse_checkpoint(_fixture(upstream, "checkpoint-v0.json"), "v0")))
    assert list(v0) == ["version", "deployment"] and v0["version"] == 3


def test_integrity_problems_in_old_fixture(upstream: Path) -> None:
    from pulumi_diy.state import check_integrity

    cp = parse_checkpoint(_fixture(upstream, "checkpoint-v3.json"), "v3")
    problems = check_integrity(cp.latest or {})
    assert problems and all(p.message.endswith("comes after it") for p in problems)


# --- shapes and errors ------------------------------------------------------------------------------

MAGIC = "ab35920a3077459b09dd1a3f7ddc28df4e3efc81b3240013bb6906688abc684d"  # sha256("v3.259.0")
STACK_URN = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"


def _current(**latest: Any) -> dict[str, Any]:
    body = {"manifest": {"time": "2026-08-21T14:03:11.52981+02:00", "magic": MAGIC, "version": "v3.259.0"},
            "resources": [{"urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack"}], "metadata": {}}
    body.update(latest)
    return {"version": 3, "checkpoint": {"stack": "organization/proj/dev", "latest": body}}


def _bytes(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def test_current_checkpoint_properties() -> None:
    cp = parse_checkpoint(_bytes(_current()), "dev.json")
    assert cp.style == COMPACT and cp.compression is Compression.NONE
    assert cp.stack == "organization/proj/dev"
    assert cp.manifest_time == datetime(2026, 8, 21, 12, 3, 11, 529810, timezone.utc)
    assert cp.manifest_time.utcoffset() == timedelta(hours=2)
    assert cp.pulumi_version == "v3.259.0"
    assert cp.resource_count == 1 and cp.latest is cp.doc["checkpoint"]["latest"]


def test_stub_checkpoint() -> None:
    doc = new_checkpoint_doc("organization/proj/dev", None)
    assert doc == {"version": 3, "checkpoint": {"stack": "organization/proj/dev"}}
    cp = parse_checkpoint(_bytes(doc), "dev.json")
    assert cp.is_stub and cp.resources == [] and cp.manifest_time is None
    assert export_document(cp) == b'{\n    "version": 3,\n    "deployment": null\n}\n'


def test_new_checkpoint_uses_version_4_only_with_features() -> None:
    doc = new_checkpoint_doc("o/p/s", {"manifest": {}}, ["views", "taint", "views"])
    assert list(doc) == ["version", "features", "checkpoint"]
    assert (doc["version"], doc["features"]) == (4, ["taint", "views"])
    cp = new_checkpoint("o/p/s", {"manifest": {}}, compression=Compression.GZIP)
    assert cp.version == 3 and cp.features == []
    expected = b'{"version":3,"checkpoint":{"stack":"o/p/s","latest":{"manifest":{}}}}'
    assert decompress(encode_checkpoint(cp), "f") == expected


def test_go_matches_keys_case_insensitively() -> None:
    doc = {"Version": 3, "Checkpoint": {"Stack": "o/p/s", "LATEST": {
        "Manifest": {"Time": "2026-01-01T00:00:00Z", "Magic": "", "Version": ""},
        "Resources": [{"URN": STACK_URN, "Custom": False, "Type": "pulumi:pulumi:Stack",
                       "Outputs": {"Key": 1}}]}}}
    data = _bytes(doc)
    cp = parse_checkpoint(data, "f")
    assert cp.version == 3 and cp.stack == "o/p/s"
    assert cp.resources == [
        {"urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {"Key": 1}}]
    assert cp.manifest["time"] == "2026-01-01T00:00:00Z"
    assert encode_checkpoint(cp) == data  # doc kept as stored


def test_unknown_keys_are_kept() -> None:
    data = _bytes(_current(futureField={"x": 1}))
    cp = parse_checkpoint(data, "f")
    assert cp.latest is not None and cp.latest["futureField"] == {"x": 1}
    assert encode_checkpoint(cp) == data


def test_edits_to_latest_are_written() -> None:
    cp = parse_checkpoint(_bytes(_current()), "f")
    cp.resources[0]["protect"] = True
    again = parse_checkpoint(encode_checkpoint(cp), "f")
    assert again.resources[0]["protect"] is True


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        (b"[1,2]", CheckpointCorrupt, "not a JSON object"),
        (b'"x"', CheckpointCorrupt, "not a JSON object"),
        (b'{"version":3,', CheckpointCorrupt, "invalid JSON"),
        (b'{"version":"3","checkpoint":{}}', CheckpointCorrupt, "$.version"),
        (b'{"version":3.0,"checkpoint":{}}', CheckpointCorrupt, "$.version"),
        (b'{"version":3}', CheckpointCorrupt, "missing 'checkpoint'"),
        (b'{"version":3,"checkpoint":[]}', CheckpointCorrupt, "not a JSON object"),
        (b'{"version":3,"checkpoint":{"latest":{"resources":{}}}}', CheckpointCorrupt,
         "checkpoint.latest.resources"),
        (b'{"version":3,"checkpoint":{"latest":{"resources":[{"custom":"yes"}]}}}', CheckpointCorrupt,
         "checkpoint.latest.resources[0].custom"),
        (b'{"version":3,"checkpoint":{"latest":{"manifest":{"time":"now"}}}}', CheckpointCorrupt, "time"),
        (b'{"version":5,"checkpoint":{}}', UnsupportedVersion, "unsupported checkpoint version 5"),
        (b'{"version":-1,"checkpoint":{}}', UnsupportedVersion, "unsupported checkpoint version -1"),
        (b'{"version":4,"features":["x","taint","y"],"checkpoint":{}}', UnsupportedFeature,
         "feature(s) x, y "),
    ],
)
def test_bad_checkpoints(data: bytes, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        parse_checkpoint(data, "stacks/dev.json")
    assert str(info.value).startswith("stacks/dev.json: ")
    assert fragment in str(info.value)


@pytest.mark.parametrize("kind", [Compression.GZIP, Compression.ZSTD])
def test_truncated_compressed_checkpoint(kind: Compression) -> None:
    data = compress(_bytes(_current()), kind)
    with pytest.raises(CheckpointCorrupt) as info:
        parse_checkpoint(data[: len(data) // 2], "stacks/dev.json" + kind.ext)
    assert info.value.message.startswith(f"stacks/dev.json{kind.ext}: truncated or corrupt")


def test_null_checkpoint_body_is_an_empty_checkpoint() -> None:
    cp = parse_checkpoint(b'{"version":3,"checkpoint":null}', "f")
    assert cp.is_stub and cp.stack == ""


# --- HTML escaping ----------------------------------------------------------------------------------


def test_secrets_provider_state_stays_escaped_in_an_unescaped_file() -> None:
    state = {"url": "awskms://alias/x?region=us-east-1&context_a=b"}
    doc = _current(secrets_providers={"type": "cloud", "state": state})
    doc["checkpoint"]["latest"]["resources"][0]["outputs"] = {"html": "<b>&amp;</b>"}
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("region=us-east-1&", "region=us-east-1\\u0026")
    cp = parse_checkpoint(text.encode(), "f")
    assert not cp.html_escape
    assert encode_checkpoint(cp) == text.encode()
    indented = json.dumps(doc, indent=4, ensure_ascii=False).replace("-1&", "-1\\u0026") + "\n"
    cp = parse_checkpoint(indented.encode(), "f")
    assert cp.style == INDENTED and encode_checkpoint(cp) == indented.encode()
    exported = export_document(cp).decode()
    assert '"html": "<b>&amp;</b>"' in exported and "us-east-1\\u0026context_a=b" in exported


def test_fully_escaped_file_stays_escaped() -> None:
    doc = _current(secrets_providers={"type": "cloud", "state": {"url": "x?a=1&b=2"}})
    doc["checkpoint"]["latest"]["resources"][0]["outputs"] = {"html": "<b>"}
    text = json.dumps(doc, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    cp = parse_checkpoint(text.encode(), "f")
    assert cp.html_escape
    assert encode_checkpoint(cp) == text.encode()


def test_escaped_backslash_is_not_an_escape() -> None:
    text = b'{"version":3,"checkpoint":{"stack":"s","latest":{"manifest":{},"metadata":{"x":"\\\\u003c"}}}}'
    cp = parse_checkpoint(text, "f")
    assert not cp.html_escape and encode_checkpoint(cp) == text


# --- export documents ---------------------------------------------------------------------------------


def test_deployment_from_export() -> None:
    exported = export_document(parse_checkpoint(_bytes(_current()), "f"))
    version, features, deployment = deployment_from_export(exported, "e")
    assert (version, features) == (3, [])
    assert deployment is not None and deployment["resources"][0]["urn"] == STACK_URN
    assert deployment_from_export(b'{"version":3,"deployment":null}', "e") == (3, [], None)
    v1 = {"version": 1, "deployment": {"resources": [{"urn": STACK_URN, "custom": False, "type": "t",
                                                       "inputs": {"a": 1}, "defaults": {"b": 2}}]}}
    _, _, migrated = deployment_from_export(_bytes(v1), "e")
    assert migrated is not None
    assert migrated["resources"] == [{"urn": STACK_URN, "custom": False, "type": "t", "inputs": {"a": 1},
                                      "propertyDependencies": {"a": None}}]


@pytest.mark.parametrize(
    ("doc", "error", "fragment"),
    [
        ({"deployment": {}}, UnsupportedVersion, "too old"),
        ({"version": 5, "deployment": {}}, UnsupportedVersion, "too new"),
        ({"version": 4, "features": ["warp"], "deployment": {}}, UnsupportedFeature, "warp"),
        ({"version": 3}, CorruptInput, "missing 'deployment'"),
        ({"version": 3, "deployment": []}, CorruptInput, "deployment"),
        ([], CorruptInput, "not a JSON object"),
    ],
)
def test_bad_export_documents(doc: Any, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        deployment_from_export(_bytes(doc), "export.json")
    assert str(info.value).startswith("export.json: ") and fragment in str(info.value)


def test_export_is_go_typed_marshal() -> None:
    resource = {"type": "t", "urn": STACK_URN, "custom": True, "id": "i", "inputs": {},
                "outputs": {"b": 1, "a": {"d": 12345678901234567890, "c": 1.5}},
                "created": "2026-08-21T12:03:12.100Z", "customTimeouts": {"create": 0, "delete": 60}}
    cp = parse_checkpoint(_bytes(_current(resources=[resource], extra=1)), "f")
    deployment = json.loads(export_document(cp))["deployment"]
    assert list(deployment) == ["manifest", "resources", "metadata"]  # unknown key dropped like Go
    assert deployment["resources"][0] == {
        "urn": STACK_URN, "custom": True, "id": "i", "type": "t",
        "outputs": {"a": {"c": 1.5, "d": 12345678901234567000}, "b": 1},
        "customTimeouts": {"delete": 60}, "created": "2026-08-21T12:03:12.1Z"}
    assert list(deployment["resources"][0]) == ["urn", "custom", "id", "type", "outputs", "customTimeouts",
                                                "created"]


# --- round-trip properties -------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_props = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3),
    max_leaves=10,
)
_names = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=8)
_ORDER = [f.name for f in RESOURCE_V3.fields]


@st.composite
def _resource(draw: st.DrawFn) -> dict[str, Any]:
    res: dict[str, Any] = {"urn": f"urn:pulumi:dev::proj::aws:s3/bucket:Bucket::{draw(_names)}",
                           "custom": True, "id": draw(_text), "type": "aws:s3/bucket:Bucket"}
    for key in ("inputs", "outputs"):
        bag = draw(st.dictionaries(_text, _props, max_size=3))
        if bag:
            res[key] = dict(sorted(bag.items()))
    if draw(st.booleans()):
        res["protect"] = True
    if draw(st.booleans()):
        res["created"] = res["modified"] = "2026-08-21T12:03:12.123456789Z"
    return {k: res[k] for k in _ORDER if k in res}


@st.composite
def _go_checkpoint(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    tail = "awskms://alias/k?region=r&context=" + draw(_text)  # always something json.Marshal escapes
    latest: dict[str, Any] = {
        "manifest": {"time": "2026-08-21T14:03:11.52981+02:00", "magic": MAGIC, "version": "v3.259.0"},
        "secrets_providers": {"type": "cloud", "state": {"url": "\x00S\x00" + tail}},
        "resources": draw(st.lists(_resource(), max_size=4)),
        "metadata": {},
    }
    features = draw(st.sampled_from([[], ["refreshBeforeUpdate"]]))
    doc: dict[str, Any] = {"version": 4 if features else 3}
    if features:
        doc["features"] = features
    doc["checkpoint"] = {"stack": "organization/proj/dev", "latest": latest}
    return doc, "\x00S\x00" + tail


def _go_text(doc: dict[str, Any], state_string: str, *, indent: bool, escape_all: bool) -> bytes:
    """What the Go CLI would have written (built with the stdlib, independently of gojson)."""
    def escape(s: str) -> str:
        return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    text = json.dumps(doc, ensure_ascii=False, indent=4 if indent else None,
                      separators=(",", ": ") if indent else (",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_all:
        text = escape(text)
    else:
        encoded = json.dumps(state_string, ensure_ascii=False)
        encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        text = text.replace(encoded, escape(encoded))
    return (text + ("\n" if indent else "")).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_go_checkpoint(), st.booleans(), st.booleans(), st.sampled_from(list(Compression)))
def test_go_written_checkpoints_reencode_byte_identically(
    generated: tuple[dict[str, Any], str], indent: bool, escape_all: bool, kind: Compression
) -> None:
    doc, state_string = generated
    text = _go_text(doc, state_string, indent=indent, escape_all=escape_all)
    stored = compress(text, kind)
    cp = parse_checkpoint(stored, "dev.json" + kind.ext)
    assert cp.style == (INDENTED if indent else COMPACT)
    assert cp.compression is kind
    assert cp.raw == stored
    out = encode_checkpoint(cp)
    assert decompress(out, "out") == text
    if kind is Compression.NONE:
        assert out == stored
    assert cp.resource_count == len(doc["checkpoint"]["latest"]["resources"])
    assert cp.features == doc.get("features", [])


def test_null_resources_are_zero_resources() -> None:
    cp = parse_checkpoint(b'{"version":3,"checkpoint":{"latest":{"resources":[null,{"urn":"u"}]}}}', "f")
    assert cp.resources == [{}, {"urn": "u"}]
    assert encode_checkpoint(cp) == b'{"version":3,"checkpoint":{"latest":{"resources":[null,{"urn":"u"}]}}}'


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3),
    max_leaves=8,
)
_field_names = st.sampled_from([f.name for f in RESOURCE_V3.fields] + ["defaults", "Custom", "URN"])
_messy_resource = st.dictionaries(_field_names, _any_json, max_size=6)
_messy_deployment = st.fixed_dictionaries({}, optional={
    "manifest": st.dictionaries(st.sampled_from(["time", "magic", "version", "plugins"]), _any_json),
    "resources": st.lists(_messy_resource | st.none(), max_size=3) | _any_json,
    "pending_operations": st.lists(st.fixed_dictionaries({"resource": _messy_resource, "type": _any_json})),
    "secrets_providers": st.fixed_dictionaries({"type": _any_json, "state": _any_json}),
})


@settings(max_examples=200, deadline=None)
@given(st.integers(-1, 5), _messy_deployment | _any_json, st.booleans())
def test_messy_input_raises_only_pulumi_diy_errors(version: int, latest: Any, wrap: bool) -> None:
    from pulumi_diy.errors import PulumiDiyError
    from pulumi_diy.state import check_integrity

    doc: Any = {"version": version, "checkpoint": {"stack": "s", "latest": latest}} if wrap else latest
    try:
        cp = parse_checkpoint(_bytes(doc), "f")
    except PulumiDiyError:
        return
    check_integrity(cp.latest or {})
    encoded = encode_checkpoint(cp)
    assert encode_checkpoint(parse_checkpoint(encoded, "f")) == encoded
    deployment_from_export(export_document(cp), "e")


def test_last_case_insensitive_duplicate_wins_like_go() -> None:
    data = b'{"version":3,"checkpoint":{"latest":{"manifest":{}},"LATEST":{"manifest":{"version":"x"}}}}'
    cp = parse_checkpoint(data, "f")
    assert cp.pulumi_version == "x"
    assert encode_checkpoint(cp) == data
