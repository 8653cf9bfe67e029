"""gzip / zstd handling: detection by magic bytes, CLI-like output, truncation detection."""

from __future__ import annotations

import gzip

import pytest
import zstandard

from pulumi_diy.errors import CorruptInput
from pulumi_diy.state.compression import Compression, compress, decompress, detect_compression

PAYLOAD = b'{"version":3,"checkpoint":{"stack":"organization/proj/dev"}}' * 200


def test_extensions() -> None:
    assert [c.ext for c in Compression] == ["", ".gz", ".zst"]
    assert Compression(".gz") is Compression.GZIP


@pytest.mark.parametrize("kind", list(Compression))
def test_round_trip_and_detection(kind: Compression) -> None:
    data = compress(PAYLOAD, kind)
    assert detect_compression(data) is kind
    assert decompress(data, "f") == PAYLOAD


def test_detection_ignores_the_name() -> None:
    assert decompress(PAYLOAD, "dev.json.gz") == PAYLOAD
    assert decompress(compress(PAYLOAD, Compression.ZSTD), "dev.json") == PAYLOAD
    assert detect_compression(b"\x1f\x8b") is Compression.NONE  # too short for the gzip magic


def test_gzip_header_like_go() -> None:
    data = compress(PAYLOAD, Compression.GZIP)
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[3] & 0x08 == 0  # no FNAME
    assert data[4:8] == b"\0\0\0\0"  # mtime 0


def test_zstd_frame_records_content_size_and_checksum() -> None:
    data = compress(PAYLOAD, Compression.ZSTD)
    params = zstandard.get_frame_parameters(data)
    assert params.content_size == len(PAYLOAD)
    assert params.has_checksum


def test_zstd_without_content_size_and_multiple_frames() -> None:
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(PAYLOAD)
    assert zstandard.get_frame_parameters(frame).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert decompress(frame, "f") == PAYLOAD
    assert decompress(frame + compress(b"tail", Compression.ZSTD), "f") == PAYLOAD + b"tail"


def test_gzip_multi_member() -> None:
    assert decompress(gzip.compress(b"a") + gzip.compress(b"b"), "f") == b"ab"


@pytest.mark.parametrize("kind", [Compression.GZIP, Compression.ZSTD])
@pytest.mark.parametrize("cut", [1, 5, 20])
def test_truncated_data_is_corrupt(kind: Compression, cut: int) -> None:
    data = compress(PAYLOAD, kind)
    with pytest.raises(CorruptInput) as info:
        decompress(data[:-cut], "stacks/dev.json" + kind.ext)
    assert info.value.message.startswith(f"stacks/dev.json{kind.ext}: truncated or corrupt ")


@pytest.mark.parametrize("kind", [Compression.GZIP, Compression.ZSTD])
def test_trailing_garbage_and_flipped_bytes_are_corrupt(kind: Compression) -> None:
    data = compress(PAYLOAD, kind)
    with pytest.raises(CorruptInput):
        decompress(data + b"garbage", "f")
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    flipped[-1] ^= 0xFF
    with pytest.raises(CorruptInput):
        decompress(bytes(flipped), "f")


def test_empty_payload() -> None:
    for kind in Compression:
        assert decompress(compress(b"", kind), "f") == b""
