"""What the bytes mean: checkpoints, Go-compatible JSON, compression, integrity and URNs.

Pure code over bytes and dicts; no storage access. zstandard is imported only when zstd data is
read or written.
"""

from __future__ import annotations

from pulumi_diy.state.checkpoint import (
    KNOWN_FEATURES,
    Checkpoint,
    deployment_from_export,
    encode_checkpoint,
    export_document,
    migrate_deployment,
    new_checkpoint,
    new_checkpoint_doc,
    parse_checkpoint,
)
from pulumi_diy.state.compression import Compression, compress, decompress, detect_compression
from pulumi_diy.state.gojson import (
    COMPACT,
    INDENTED,
    JsonStyle,
    detect_style,
    dumps,
    format_go_float,
    format_go_time,
    loads,
    normalize_go_time,
    parse_go_time,
)
from pulumi_diy.state.integrity import IntegrityProblem, check_integrity, expected_magic
from pulumi_diy.state.urn import (
    URN,
    is_provider_type,
    is_valid_urn,
    make_urn,
    parse_provider_reference,
    parse_urn,
    provider_reference,
)

__all__ = [
    "COMPACT",
    "INDENTED",
    "KNOWN_FEATURES",
    "URN",
    "Checkpoint",
    "Compression",
    "IntegrityProblem",
    "JsonStyle",
    "check_integrity",
    "compress",
    "decompress",
    "deployment_from_export",
    "detect_compression",
    "detect_style",
    "dumps",
    "encode_checkpoint",
    "expected_magic",
    "export_document",
    "format_go_float",
    "format_go_time",
    "is_provider_type",
    "is_valid_urn",
    "loads",
    "make_urn",
    "migrate_deployment",
    "new_checkpoint",
    "new_checkpoint_doc",
    "normalize_go_time",
    "parse_checkpoint",
    "parse_go_time",
    "parse_provider_reference",
    "parse_urn",
    "provider_reference",
]
