"""Pulumi's snapshot integrity rules (P ``pkg/resource/deploy/snapshot.go`` ``VerifyIntegrity``;
format doc section 3.10).

The CLI refuses to operate on a deployment that breaks any of them. Go stops at the first problem;
:func:`check_integrity` reports all of them, with Go's wording.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_diy.errors import CorruptInput
from pulumi_diy.state.urn import UNKNOWN_ID, is_provider_type, parse_provider_reference, provider_reference


@dataclass(frozen=True)
class IntegrityProblem:
    """One broken rule: ``urn`` is the offending resource ("" for deployment-wide problems)."""

    urn: str
    message: str


def expected_magic(version: str) -> str:
    """The manifest ``magic`` Pulumi expects: lowercase hex SHA-256 of ``version`` ("" if empty)."""
    return hashlib.sha256(version.encode("utf-8")).hexdigest() if version else ""


def _urns(value: Any) -> list[str]:
    return [u for u in value if isinstance(u, str) and u] if isinstance(value, list) else []


def _dependencies(res: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, urn, property) for every reference that must point at an earlier resource."""
    for dep in _urns([res.get("parent")]):
        yield "parent", dep, ""
    for dep in _urns(res.get("dependencies")):
        yield "dependency", dep, ""
    by_property = res.get("propertyDependencies")
    for key, deps in (by_property.items() if isinstance(by_property, dict) else ()):
        for dep in _urns(deps):
            yield "property", dep, key
    for dep in _urns([res.get("deletedWith")]):
        yield "deletedWith", dep, ""
    for dep in _urns(res.get("replaceWith")):
        yield "replaceWith", dep, ""


def _dependency_message(urn: str, kind: str, dep: str, key: str, later: bool) -> str:
    if kind == "parent":
        return (f"child resource {urn}'s parent {dep} comes after it" if later
                else f"child resource {urn} refers to missing parent {dep}")
    if kind == "dependency":
        return (f"resource {urn}'s dependency {dep} comes after it" if later
                else f"resource {urn}'s dependency {dep} refers to missing resource")
    if kind == "property":
        subject = f"resource {urn}'s property dependency {dep} (from property {key})"
        return f"{subject} comes after it" if later else f"{subject} refers to missing resource"
    verb = "deleted" if kind == "deletedWith" else "replaced"
    return (f"resource {urn} is specified as being {verb} with {dep}, which comes after it" if later
            else f"resource {urn} is specified as being {verb} with {dep}, which is missing")


def check_integrity(deployment: dict[str, Any]) -> list[IntegrityProblem]:
    """Every integrity problem of a V3 deployment dict (empty list when it is sound)."""
    problems: list[IntegrityProblem] = []
    manifest = deployment.get("manifest") or {}
    version = manifest.get("version") or ""
    if (manifest.get("magic") or "") != expected_magic(str(version)):
        problems.append(IntegrityProblem("", "magic cookie mismatch; possible tampering/corruption detected"))

    # A JSON null in the list is a zero-valued resource to Go (and so lacks a URN).
    resources = [{} if r is None else r for r in deployment.get("resources") or []]
    positions: dict[str, list[int]] = defaultdict(list)
    for i, res in enumerate(resources):
        if isinstance(res, dict) and isinstance(res.get("urn"), str) and res["urn"]:
            positions[res["urn"]].append(i)
    seen: set[str] = set()
    providers: dict[tuple[str, str], int] = {}
    provider_positions = {(str(r.get("urn")), str(r.get("id") or UNKNOWN_ID)): i for i, r in enumerate(resources)
                          if isinstance(r, dict) and is_provider_type(str(r.get("type") or ""))}

    for i, res in enumerate(resources):
        if not isinstance(res, dict):
            problems.append(IntegrityProblem("", f"resource at index {i} is not an object"))
            continue
        urn = res.get("urn") or ""
        if not isinstance(urn, str) or not urn:
            problems.append(IntegrityProblem("", f"resource at index {i} missing required 'urn' field"))
            continue
        if not res.get("type"):
            problems.append(IntegrityProblem(urn, f"resource '{urn}' missing required 'type' field"))
        if not res.get("custom") and res.get("id"):
            problems.append(IntegrityProblem(urn, f"resource '{urn}' has 'custom false but non-empty ID"))
        if is_provider_type(str(res.get("type") or "")):
            try:
                provider_reference(urn, res.get("id") or "")
                providers[(urn, str(res.get("id") or UNKNOWN_ID))] = i
            except CorruptInput as exc:
                problems.append(IntegrityProblem(urn, f"provider {urn} is not referenceable: {exc}"))
        ref = res.get("provider")
        if isinstance(ref, str) and ref:
            problems.extend(_check_provider(urn, ref, res, providers, provider_positions, i))
        for kind, dep, key in _dependencies(res):
            if dep not in seen:
                later = any(j > i for j in positions.get(dep, ()))
                problems.append(IntegrityProblem(urn, _dependency_message(urn, kind, dep, key, later)))
        seen.add(urn)

    for urn, where in positions.items():
        if len(where) > 1:
            deletes = sum(1 for j in where if resources[j].get("delete"))
            if deletes not in (len(where) - 1, len(where)):
                problems.append(IntegrityProblem(urn, f"duplicate resource {urn} (not marked for deletion)"))
    problems.extend(_check_snippets(deployment.get("snippets") or []))
    return problems


def _check_provider(urn: str, ref: str, res: dict[str, Any], known: dict[tuple[str, str], int],
                    everywhere: dict[tuple[str, str], int], index: int) -> list[IntegrityProblem]:
    try:
        key = parse_provider_reference(ref)
    except CorruptInput as exc:
        return [IntegrityProblem(urn, f"failed to parse provider reference for resource {urn}: {exc}")]
    if key in known or res.get("pendingReplacement"):
        return []
    if everywhere.get(key, -1) > index:
        return [IntegrityProblem(urn, f"resource {urn} refers to provider {ref}, which comes after it")]
    return [IntegrityProblem(urn, f"resource {urn} refers to unknown provider {ref}")]


def _check_snippets(snippets: list[Any]) -> list[IntegrityProblem]:
    problems: list[IntegrityProblem] = []
    first: dict[str, int] = {}
    for i, snippet in enumerate(snippets):
        uuid = snippet.get("uuid") if isinstance(snippet, dict) else None
        if not uuid:
            problems.append(IntegrityProblem("", f"snippet at index {i} missing required 'uuid' field"))
        elif uuid in first:
            message = f'duplicate snippet uuid "{uuid}" at indexes {first[uuid]} and {i}'
            problems.append(IntegrityProblem("", message))
        else:
            first[uuid] = i
    return problems
