"""Pulumi's integrity rules on hand-built deployments, one problem at a time."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_diy.state.integrity import IntegrityProblem, check_integrity, expected_magic

STACK = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
PROV = "urn:pulumi:dev::proj::pulumi:providers:aws::default_6_0_0"
BUCKET = "urn:pulumi:dev::proj::aws:s3/bucket:Bucket::b"
OBJECT = "urn:pulumi:dev::proj::aws:s3/bucketObject:BucketObject::o"


def _deployment(*resources: dict[str, Any], version: str = "v3.259.0") -> dict[str, Any]:
    manifest = {"time": "2026-08-21T12:00:00Z", "magic": expected_magic(version), "version": version}
    return {"manifest": manifest,
            "resources": list(resources), "metadata": {}}


def _stack() -> dict[str, Any]:
    return {"urn": STACK, "custom": False, "type": "pulumi:pulumi:Stack"}


def _provider() -> dict[str, Any]:
    return {"urn": PROV, "custom": True, "id": "p1", "type": "pulumi:providers:aws", "parent": STACK}


def _bucket(**extra: Any) -> dict[str, Any]:
    return {"urn": BUCKET, "custom": True, "id": "b1", "type": "aws:s3/bucket:Bucket", "parent": STACK,
            "provider": f"{PROV}::p1", **extra}


def _messages(deployment: dict[str, Any]) -> list[str]:
    return [p.message for p in check_integrity(deployment)]


def test_expected_magic() -> None:
    assert expected_magic("v3.259.0") == "ab35920a3077459b09dd1a3f7ddc28df4e3efc81b3240013bb6906688abc684d"
    assert expected_magic("") == ""


def test_sound_deployment_has_no_problems() -> None:
    obj = {"urn": OBJECT, "custom": True, "id": "o1", "type": "aws:s3/bucketObject:BucketObject",
           "parent": STACK, "provider": f"{PROV}::p1", "dependencies": [BUCKET],
           "propertyDependencies": {"bucket": [BUCKET], "key": None}, "deletedWith": BUCKET}
    assert check_integrity(_deployment(_stack(), _provider(), _bucket(), obj)) == []
    assert check_integrity({}) == []
    assert check_integrity(_deployment(version="")) == []


def test_magic_mismatch() -> None:
    deployment = _deployment(_stack())
    deployment["manifest"]["magic"] = "00" * 32
    assert check_integrity(deployment) == [
        IntegrityProblem("", "magic cookie mismatch; possible tampering/corruption detected")]


def test_missing_urn_and_type() -> None:
    assert _messages(_deployment({"custom": False, "type": "t"}, {"urn": STACK, "custom": False})) == [
        "resource at index 0 missing required 'urn' field",
        f"resource '{STACK}' missing required 'type' field",
    ]


def test_component_with_id() -> None:
    problems = check_integrity(_deployment({**_stack(), "id": "x"}))
    assert problems == [IntegrityProblem(STACK, f"resource '{STACK}' has 'custom false but non-empty ID")]


def test_unknown_and_later_provider() -> None:
    assert _messages(_deployment(_stack(), _bucket())) == [
        f"resource {BUCKET} refers to unknown provider {PROV}::p1"]
    assert _messages(_deployment(_stack(), _bucket(), _provider())) == [
        f"resource {BUCKET} refers to provider {PROV}::p1, which comes after it"]
    assert _messages(_deployment(_stack(), _provider(), _bucket(provider=f"{PROV}::other"))) == [
        f"resource {BUCKET} refers to unknown provider {PROV}::other"]
    # pending replacement excuses a missing provider, as in Go
    assert _messages(_deployment(_stack(), _bucket(pendingReplacement=True))) == []


def test_provider_with_empty_id_is_referenced_by_the_unknown_id() -> None:
    provider = {**_provider(), "id": ""}
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert _messages(_deployment(_stack(), provider, _bucket(provider=f"{PROV}::{unknown}"))) == []


def test_malformed_provider_reference() -> None:
    (message,) = _messages(_deployment(_stack(), _bucket(provider="not-a-reference")))
    assert message.startswith(f"failed to parse provider reference for resource {BUCKET}: ")


@pytest.mark.parametrize(
    ("extra", "missing", "later"),
    [
        ({"parent": OBJECT}, f"child resource {BUCKET} refers to missing parent {OBJECT}",
         f"child resource {BUCKET}'s parent {OBJECT} comes after it"),
        ({"dependencies": [OBJECT]}, f"resource {BUCKET}'s dependency {OBJECT} refers to missing resource",
         f"resource {BUCKET}'s dependency {OBJECT} comes after it"),
        ({"propertyDependencies": {"acl": [OBJECT]}},
         f"resource {BUCKET}'s property dependency {OBJECT} (from property acl) refers to missing resource",
         f"resource {BUCKET}'s property dependency {OBJECT} (from property acl) comes after it"),
        ({"deletedWith": OBJECT},
         f"resource {BUCKET} is specified as being deleted with {OBJECT}, which is missing",
         f"resource {BUCKET} is specified as being deleted with {OBJECT}, which comes after it"),
        ({"replaceWith": [OBJECT]},
         f"resource {BUCKET} is specified as being replaced with {OBJECT}, which is missing",
         f"resource {BUCKET} is specified as being replaced with {OBJECT}, which comes after it"),
    ],
)
def test_dangling_and_out_of_order_references(extra: dict[str, Any], missing: str, later: str) -> None:
    obj = {"urn": OBJECT, "custom": True, "id": "o1", "type": "aws:s3/bucketObject:BucketObject"}
    assert check_integrity(_deployment(_stack(), _provider(), _bucket(**extra))) == [
        IntegrityProblem(BUCKET, missing)]
    assert check_integrity(_deployment(_stack(), _provider(), _bucket(**extra), obj)) == [
        IntegrityProblem(BUCKET, later)]


def test_duplicate_urns() -> None:
    dup = f"duplicate resource {BUCKET} (not marked for deletion)"
    base = (_stack(), _provider())
    assert _messages(_deployment(*base, _bucket(), _bucket())) == [dup]
    assert _messages(_deployment(*base, _bucket(delete=True), _bucket())) == []
    assert _messages(_deployment(*base, _bucket(delete=True), _bucket(delete=True))) == []
    assert _messages(_deployment(*base, _bucket(delete=True), _bucket(), _bucket())) == [dup]


def test_snippets() -> None:
    deployment = _deployment(_stack())
    deployment["snippets"] = [{"uuid": "a"}, {"uuid": ""}, {"uuid": "a"}]
    assert _messages(deployment) == ["snippet at index 1 missing required 'uuid' field",
                                     'duplicate snippet uuid "a" at indexes 0 and 2']


def test_all_problems_are_reported() -> None:
    deployment = _deployment({**_stack(), "id": "x"}, _bucket(dependencies=[OBJECT]))
    deployment["manifest"]["magic"] = "bad"
    assert len(check_integrity(deployment)) == 4  # magic, id, provider, dependency
