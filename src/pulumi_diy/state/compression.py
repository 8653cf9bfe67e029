"""Compression of stack, history and checkpoint files: none, gzip or zstd.

Pulumi picks the codec for *reading* from the magic bytes, never from the file name
(P ``sdk/go/common/encoding/marshal.go`` ``DetectCompression``); the extension only matters
when choosing which file to write. Compressed bytes are never byte-identical between
implementations, so callers compare content after :func:`decompress`.
"""

from __future__ import annotations

import gzip
import zlib
from enum import Enum
from typing import Any

from pulumi_diy.errors import CorruptInput, MissingDependency

GZIP_MAGIC = b"\x1f\x8b\x08"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# klauspost's gzip.DefaultCompression is zlib level 6; zstd's default level is 3.
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 3


class Compression(str, Enum):
    """A compression format; the value is the suffix Pulumi appends after ``.json``."""

    NONE = ""
    GZIP = ".gz"
    ZSTD = ".zst"

    @property
    def ext(self) -> str:
        """The file-name suffix after ``.json`` (``""``, ``".gz"`` or ``".zst"``)."""
        return self.value


def detect_compression(data: bytes) -> Compression:
    """Return the compression of ``data`` judged by its magic bytes (as Pulumi does)."""
    if data.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if data.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError as exc:  # zstandard is a core dependency; a broken install is the only way here
        raise MissingDependency("zstandard", "all") from exc
    return zstandard


def decompress(data: bytes, name: str) -> bytes:
    """Return the content of ``data``, decompressing gzip or zstd detected by magic bytes.

    ``name`` is used in error messages. Truncated or corrupt input raises :class:`CorruptInput`.
    Multi-member gzip and multi-frame zstd (with or without a content size) are accepted, like
    Go's readers.
    """
    kind = detect_compression(data)
    if kind is Compression.GZIP:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            raise CorruptInput(f"{name}: truncated or corrupt gzip data ({exc})") from exc
    if kind is Compression.ZSTD:
        return _zstd_decompress(data, name)
    return data


def _zstd_decompress(data: bytes, name: str) -> bytes:
    zstandard = _zstandard()
    dctx = zstandard.ZstdDecompressor()
    parts: list[bytes] = []
    rest = data
    try:
        # One decompressobj per frame: unlike stream_reader it tells us (via .eof) whether a
        # frame was complete, which is how truncation is detected.
        while rest:
            dobj = dctx.decompressobj()
            parts.append(dobj.decompress(rest))
            if not dobj.eof:
                raise CorruptInput(f"{name}: truncated or corrupt zstd data (incomplete frame)")
            rest = dobj.unused_data
    except zstandard.ZstdError as exc:
        raise CorruptInput(f"{name}: truncated or corrupt zstd data ({exc})") from exc
    return b"".join(parts)


def compress(data: bytes, compression: Compression) -> bytes:
    """Compress ``data`` like the Pulumi CLI does (gzip: default level, mtime 0, no file name;
    zstd: default level, content size in the frame header, checksum as klauspost writes)."""
    if compression == Compression.GZIP:
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    if compression == Compression.ZSTD:
        zstandard = _zstandard()
        cctx = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True, write_checksum=True)
        return bytes(cctx.compress(data))
    return data
