"""The pure deployment diff: hand-built pairs with known changes, secrets rules, and properties."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_diy.errors import PassphraseRequired
from pulumi_diy.history.diff import MISSING, diff_deployments, json_equal, secret_reader
from pulumi_diy.secrets import AesGcmCrypter, decrypt_secret_value, encrypt_secret_value

P = "urn:pulumi:dev::proj::"
STACK = P + "pulumi:pulumi:Stack::proj-dev"
AWS = P + "pulumi:providers:aws::default_6_0_0"
AWS7 = P + "pulumi:providers:aws::default_7_0_0"
BUCKET = P + "aws:s3/bucket:Bucket::logs"
ROLE = P + "aws:iam/role:Role::app"
QUEUE = P + "aws:sqs/queue:Queue::jobs"


class KeyManager:
    """A v1-crypter manager with a fixed key: random nonces, so equal values get different ciphertexts."""

    type = "test"

    def __init__(self, key: bytes = b"k" * 32) -> None:
        self._c = AesGcmCrypter(key)

    def encrypt(self, plaintext: str) -> str:
        return self._c.encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return self._c.decrypt(ciphertext)

    def state(self) -> dict[str, Any] | None:
        return {"k": "v"}


KEY = KeyManager()


def secret(value: Any) -> dict[str, Any]:
    return encrypt_secret_value(value, KEY)


def res(urn: str, type_: str, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"urn": urn, "custom": type_ != "pulumi:pulumi:Stack", "type": type_}
    r.update(kw)
    return r


def deployment(*resources: dict[str, Any], version: str = "v3.200.0") -> dict[str, Any]:
    return {"manifest": {"time": "2026-01-01T00:00:00Z", "magic": "", "version": version},
            "secrets_providers": {"type": "test", "state": {"k": "v"}}, "resources": list(resources),
            "metadata": {}}


def base() -> dict[str, Any]:
    return deployment(
        res(STACK, "pulumi:pulumi:Stack", outputs={"url": "https://a", "count": 1}),
        res(AWS, "pulumi:providers:aws", id="p1", inputs={"region": "eu-west-1"}),
        res(BUCKET, "aws:s3/bucket:Bucket", id="logs-1", provider=f"{AWS}::p1", parent=STACK,
            inputs={"tags": {"env": "dev", "team": "a"}, "acl": "private", "rules": [{"days": 30}]},
            outputs={"arn": "arn:1", "tags": {"env": "dev", "team": "a"}}),
        res(ROLE, "aws:iam/role:Role", id="role-1", provider=f"{AWS}::p1", inputs={"name": "app"}),
    )


def find(diff: Any, urn: str) -> Any:
    return next(r for r in diff.resources if r.urn == urn)


def test_identical_deployments_have_no_changes() -> None:
    d = diff_deployments(base(), copy.deepcopy(base()))
    assert d.empty and d.resources == () and d.outputs == ()
    assert d.summary == {"add": 0, "remove": 0, "replace": 0, "change": 0, "same": 4, "outputs": 0,
                         "notCompared": 0}


def test_added_and_removed_resources() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["resources"] = [r for r in new["resources"] if r["urn"] != ROLE]
    new["resources"].append(res(QUEUE, "aws:sqs/queue:Queue", id="q-1"))
    d = diff_deployments(old, new)
    assert [(r.urn, r.op) for r in d.resources] == [(QUEUE, "add"), (ROLE, "remove")]
    assert find(d, QUEUE).new_id == "q-1" and find(d, ROLE).old_id == "role-1"
    assert d.summary["add"] == 1 and d.summary["remove"] == 1 and d.summary["same"] == 3


def test_property_changes_as_paths() -> None:
    old = base()
    new = copy.deepcopy(old)
    b = new["resources"][2]
    b["inputs"]["tags"]["env"] = "prod"
    del b["inputs"]["tags"]["team"]
    b["inputs"]["tags"]["a.b"] = "x"
    b["inputs"]["rules"][0]["days"] = 60
    b["inputs"]["rules"].append({"days": 90})
    d = diff_deployments(old, new)
    r = find(d, BUCKET)
    assert r.op == "change"
    got = [(p.section, p.path, p.op, p.old, p.new) for p in r.properties]
    assert got == [
        ("inputs", "tags.env", "changed", "dev", "prod"),
        ("inputs", "tags.team", "removed", "a", MISSING),
        ("inputs", 'tags["a.b"]', "added", MISSING, "x"),
        ("inputs", "rules[0].days", "changed", 30, 60),
        ("inputs", "rules[1]", "added", MISSING, {"days": 90}),
    ]


def test_replace_by_new_id_and_by_pending_delete_copy() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["resources"][2]["id"] = "logs-2"
    new["resources"][2]["outputs"]["arn"] = "arn:2"
    # create-before-delete in progress: the old role is still there, marked for deletion.
    doomed = copy.deepcopy(old["resources"][3])
    doomed["delete"] = True
    new["resources"].insert(3, doomed)
    d = diff_deployments(old, new)
    bucket = find(d, BUCKET)
    assert bucket.op == "replace" and (bucket.old_id, bucket.new_id) == ("logs-1", "logs-2")
    assert [f.field for f in bucket.fields] == []  # the id change is the replacement itself
    assert ("outputs", "arn") in {(p.section, p.path) for p in bucket.properties}
    assert find(d, ROLE).op == "replace"
    assert d.summary["replace"] == 2


def test_protect_provider_parent_changes_and_omitempty() -> None:
    old = base()
    old["resources"][3]["protect"] = False  # same as absent
    new = copy.deepcopy(old)
    new["resources"].insert(2, res(AWS7, "pulumi:providers:aws", id="p7"))
    b = new["resources"][3]
    b["protect"] = True
    b["provider"] = f"{AWS7}::p7"
    del b["parent"]
    b["dependencies"] = [ROLE]
    new["resources"][4].pop("protect")
    d = diff_deployments(old, new)
    fields = {f.field: (f.old, f.new) for f in find(d, BUCKET).fields}
    assert fields == {"parent": (STACK, None), "protect": (None, True), "dependencies": (None, [ROLE]),
                      "provider": (f"{AWS}::p1", f"{AWS7}::p7")}
    assert ROLE not in {r.urn for r in d.resources}
    assert find(d, AWS7).op == "add"


def test_bookkeeping_fields_are_ignored() -> None:
    old = base()
    new = copy.deepcopy(old)
    for r in new["resources"]:
        r["modified"] = "2027-01-01T00:00:00Z"
        r["created"] = "2020-01-01T00:00:00Z"
        r["propertyDependencies"] = {}
    assert diff_deployments(old, new).empty


def test_stack_outputs_are_reported_apart_from_the_root_resource() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["resources"][0]["outputs"] = {"url": "https://b", "extra": True}
    d = diff_deployments(old, new)
    assert STACK not in {r.urn for r in d.resources}
    assert {(p.path, p.op) for p in d.outputs} == {
        ("url", "changed"), ("count", "removed"), ("extra", "added")}
    assert d.summary["outputs"] == 3


def test_empty_sides() -> None:
    d = diff_deployments(None, base())
    assert d.summary["add"] == 4 and d.summary["same"] == 0
    assert {p.path for p in d.outputs} == {"url", "count"}
    assert diff_deployments(base(), None).summary["remove"] == 4


def with_secret_outputs(pw: Any, stack_secret: Any) -> dict[str, Any]:
    d = base()
    d["resources"][3]["outputs"] = {"password": secret(pw) if not isinstance(pw, dict) else pw}
    d["resources"][0]["outputs"]["token"] = secret(stack_secret)
    return d


def test_secrets_with_identical_ciphertext_are_equal_without_a_key() -> None:
    old = with_secret_outputs("pw", "tok")
    assert diff_deployments(old, copy.deepcopy(old)).empty


def test_secrets_differing_ciphertexts_are_not_compared_without_a_key() -> None:
    old = with_secret_outputs("pw", "tok")
    new = with_secret_outputs("pw", "tok")  # same values, fresh nonces
    d = diff_deployments(old, new)
    assert d.resources == ()  # a not-compared secret alone does not make a change
    assert sorted(d.not_compared) == sorted([f"{ROLE} outputs.password", f"{STACK} outputs.token"])
    assert [(p.path, p.op, p.old, p.new) for p in d.outputs] == [
        ("token", "not-compared", "[secret]", "[secret]")]
    assert d.summary["notCompared"] == 2 and d.summary["outputs"] == 0


def test_secrets_compare_by_plaintext_with_a_key_and_stay_masked() -> None:
    reveal = secret_reader(KEY)
    old = with_secret_outputs("pw", "tok")
    assert diff_deployments(old, with_secret_outputs("pw", "tok"), reveal_old=reveal, reveal_new=reveal).empty
    d = diff_deployments(old, with_secret_outputs("pw2", "tok"), reveal_old=reveal, reveal_new=reveal)
    (p,) = find(d, ROLE).properties
    assert (p.path, p.op, p.old, p.new, p.secret) == ("password", "changed", "[secret]", "[secret]", True)
    shown = diff_deployments(old, with_secret_outputs("pw2", "tok"), reveal_old=reveal, reveal_new=reveal,
                             show_secrets=True)
    (p,) = find(shown, ROLE).properties
    assert (p.old, p.new) == ("pw", "pw2")


def test_value_that_becomes_secret_is_a_change() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["resources"][2]["inputs"]["acl"] = secret("private")
    d = diff_deployments(old, new)
    (p,) = find(d, BUCKET).properties
    assert (p.path, p.op, p.old, p.new, p.secret) == ("acl", "changed", "private", "[secret]", True)


def test_added_subtrees_mask_nested_secrets_unless_shown() -> None:
    old = base()
    new = copy.deepcopy(old)
    new["resources"][2]["inputs"]["auth"] = {"user": "u", "pw": secret("s3cr3t")}
    (p,) = find(diff_deployments(old, new), BUCKET).properties
    assert p.new == {"user": "u", "pw": "[secret]"} and p.secret
    reveal = secret_reader(KEY)
    (p,) = find(diff_deployments(old, new, reveal_new=reveal, show_secrets=True), BUCKET).properties
    assert p.new == {"user": "u", "pw": "s3cr3t"}


def test_a_missing_key_makes_that_side_not_comparable() -> None:
    calls = []

    def no_key(s: Mapping[str, Any]) -> Any:
        calls.append(1)
        raise PassphraseRequired("no passphrase")

    old = with_secret_outputs("pw", "tok")
    new = with_secret_outputs("pw", "tok")
    d = diff_deployments(old, new, reveal_old=secret_reader(KEY), reveal_new=no_key)
    assert len(d.not_compared) == 2
    assert len(calls) == 1  # gave up after the first failure instead of asking again


def test_metadata_notes() -> None:
    old = base()
    new = deployment(*copy.deepcopy(old["resources"]), version="v3.259.0")
    new["secrets_providers"] = {"type": "passphrase", "state": {"salt": "v1:x"}}
    new["pending_operations"] = [{"resource": res(QUEUE, "aws:sqs/queue:Queue"), "type": "creating"}]
    d = diff_deployments(old, new)
    assert (d.old_pulumi_version, d.new_pulumi_version) == ("v3.200.0", "v3.259.0")
    assert d.secrets_provider_changed and (d.old_pending, d.new_pending) == (0, 1)
    out = d.to_dict()
    assert out["pulumiVersion"] == {"old": "v3.200.0", "new": "v3.259.0"}
    assert set(out) == {"summary", "resources", "outputs", "notCompared", "pulumiVersion",
                        "secretsProviderChanged", "pendingOperations"}


def test_json_equal_follows_json_not_python() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert not json_equal(None, "")
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal([1, 2], [1, 2, 3])


def test_reveal_reader_decrypts_nested_values() -> None:
    s = secret({"a": [1, 2]})
    assert secret_reader(KEY)(s) == decrypt_secret_value(s, KEY) == {"a": [1, 2]}


@pytest.mark.parametrize("op", ["add", "remove"])
def test_to_dict_shapes(op: str) -> None:
    old, new = base(), base()
    (new if op == "add" else old)["resources"].append(res(QUEUE, "aws:sqs/queue:Queue", id="q"))
    (r,) = diff_deployments(old, new).to_dict()["resources"]
    assert set(r) == {"urn", "type", "op", "oldId", "newId", "fields", "properties"} and r["op"] == op


# --- properties ------------------------------------------------------------------------------

_names = st.sampled_from(["a", "b", "c", "tags", "x.y"])
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_value = st.recursive(
    _leaf, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_names, inner, max_size=3)),
    max_leaves=8)
_resource = st.builds(lambda n, inputs, protect: res(f"{P}t:m:R::r{n}", "t:m:R", id=f"id{n}", inputs=inputs,
                                                     protect=protect),
                      st.integers(0, 6), st.dictionaries(_names, _value, max_size=3), st.booleans())


def _dedupe(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in rs:
        seen.setdefault(r["urn"], r)
    return list(seen.values())


_deployment = st.lists(_resource, max_size=6).map(lambda rs: deployment(*_dedupe(rs)))


@settings(max_examples=150, deadline=None)
@given(_deployment)
def test_property_a_deployment_equals_itself(d: dict[str, Any]) -> None:
    assert diff_deployments(d, copy.deepcopy(d)).empty


@settings(max_examples=150, deadline=None)
@given(_deployment, _deployment)
def test_property_diff_is_symmetric(a: dict[str, Any], b: dict[str, Any]) -> None:
    ab, ba = diff_deployments(a, b), diff_deployments(b, a)
    assert ab.count("add") == ba.count("remove") and ab.count("remove") == ba.count("add")
    changed = {r.urn for r in ab.resources if r.op == "change"}
    assert changed == {r.urn for r in ba.resources if r.op == "change"}
    # Resource order is not a change (the diff is by URN), so compare with resources keyed by URN.
    assert ab.empty == ba.empty == json_equal(_by_urn(a), _by_urn(b))


def _by_urn(deployment: dict[str, Any]) -> dict[str, Any]:
    return {**deployment, "resources": {r["urn"]: r for r in deployment.get("resources") or []}}
