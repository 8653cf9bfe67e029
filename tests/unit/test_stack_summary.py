"""The fast summary `stack ls` uses must agree with the full checkpoint parser."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.config import resolve_settings
from pulumi_diy.errors import CorruptInput, UnsupportedFeature
from pulumi_diy.stacks import summarize_bytes, summarize_checkpoint
from pulumi_diy.synth import SynthSpec, generate


@pytest.fixture
def backend(tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_backend(settings=resolve_settings(backend=f"file://{tmp_path}",
                                                  environ={"HOME": str(tmp_path), "PULUMI_DIY_CACHE_DIR": ""}),
                        use_cache=False)


def _full(backend, key: str, data: bytes):  # type: ignore[no-untyped-def]
    return summarize_checkpoint(backend.parse_object(key, data))


def test_agrees_on_synthetic_stacks(backend) -> None:  # type: ignore[no-untyped-def]
    generate(backend, SynthSpec(projects=["a"], stacks=["x", "y", "z"], resources=6, history=1, backups=0,
                                compression={"a/y": "gzip", "a/z": "zstd"}, indented={"a/x"}, pending={"a/y"}))
    for ref, obj in backend.stacks().items():
        data = backend.store.read(obj.key)
        assert summarize_bytes(backend, obj.key, data) == _full(backend, obj.key, data), ref


def test_agrees_on_upstream_fixtures(backend, upstream: Path) -> None:  # type: ignore[no-untyped-def]
    for f in sorted((upstream / "pulumi" / "checkpoints").glob("*.json")):
        data = f.read_bytes()
        if "unsupported" in f.name:
            with pytest.raises(UnsupportedFeature):
                summarize_bytes(backend, f.name, data)
            continue
        assert summarize_bytes(backend, f.name, data) == _full(backend, f.name, data), f.name


@pytest.mark.parametrize("data", [
    b'{"version":3,"checkpoint":{"stack":"s","latest":{"manifest":{"time":"0001-01-01T00:00:00Z"}}}}',
    b'{"version":3,"checkpoint":{"stack":"s"}}',
    b'{"version":4,"features":["taint"],"checkpoint":{"stack":"s","latest":{"resources":[{}, {}]}}}',
    b'{"Version":3,"Checkpoint":{"Latest":{"Resources":[{"URN":"u"}]}}}',
])
def test_agrees_on_edge_shapes(backend, data: bytes) -> None:  # type: ignore[no-untyped-def]
    assert summarize_bytes(backend, "k", data) == _full(backend, "k", data)
    assert summarize_bytes(backend, "k", gzip.compress(data)) == _full(backend, "k", data)


@pytest.mark.parametrize("data", [b"{", b'{"version":3,"checkpoint":{"latest":{"resources":{}}}}', b"[]",
                                  json.dumps({"version": 3, "checkpoint": {"latest": {"x": float("nan")}}}).encode(),
                                  # what json.loads alone would accept and Go refuses
                                  b'\xef\xbb\xbf{"version":3,"checkpoint":{"latest":{"resources":[{}]}}}',
                                  b'{"version":3.0,"checkpoint":{"latest":{"resources":[{}]}}}',
                                  b'{"version":3,"checkpoint":{"latest":{"resources":[{"x":1e400}]}}}'])
def test_bad_input_raises_like_the_full_parser(backend, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CorruptInput) as fast:
        summarize_bytes(backend, "k", data)
    with pytest.raises(CorruptInput) as full:
        _full(backend, "k", data)
    assert type(fast.value) is type(full.value) and str(fast.value) == str(full.value)
