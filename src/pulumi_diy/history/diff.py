"""What changed between two deployments: resources by URN, properties by path, stack outputs (pure).

Resources are matched by URN. A resource is *replaced* when its provider ID changed (Pulumi
created a new one under the same URN) or when the newer deployment holds a ``delete: true`` copy
the older did not (a replacement whose old copy is still pending deletion). Property changes are
reported as Pulumi property paths (``tags.env``, ``rules[0].cidr``, ``tags["a.b"]``).

Secrets: two secrets are equal when their ciphertexts are identical; otherwise they are compared by
plaintext when a ``reveal`` function is given for both sides, and reported as *not compared* when
not (ciphertexts differ even for equal values). Values are shown as ``[secret]`` unless
``show_secrets`` is set and the side's secret can be revealed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptInput, DecryptionFailed, PulumiDiyError
from ..secrets.values import MASK, SIG_KEY, format_property_path, is_secret, mask_secrets

STACK_TYPE = "pulumi:pulumi:Stack"
Reveal = Callable[[Mapping[str, Any]], Any]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# Resource fields compared as a whole, in Go's field order (format doc 3.4). `inputs`/`outputs` are
# diffed by property path; bookkeeping that changes on every save is ignored.
_FIELD_ORDER = (
    "type", "custom", "id", "delete", "parent", "protect", "taint", "external", "dependencies", "initErrors",
    "provider", "pendingReplacement", "additionalSecretOutputs", "aliases", "customTimeouts", "importID",
    "retainOnDelete", "deletedWith", "replaceWith", "ignoreChanges", "hideDiff", "replaceOnChanges",
    "replacementTrigger", "refreshBeforeUpdate", "viewOf", "resourceHooks", "extensionRef", "snippetID",
)
_IGNORED = frozenset({"urn", "inputs", "outputs", "created", "modified", "propertyDependencies",
                      "sourcePosition", "stackTrace"})


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value (``1 == 1.0``), but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


@dataclass(frozen=True)
class PropertyChange:
    """One changed property. ``op``: ``added``, ``removed``, ``changed`` or ``not-compared`` (secrets
    whose plaintext could not be read). ``old``/``new`` are display values (secrets masked unless shown)."""

    section: str  # "inputs" | "outputs"
    path: str
    op: str
    old: Any = MISSING
    new: Any = MISSING
    secret: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section, "path": self.path, "op": self.op}
        if self.old is not MISSING:
            out["old"] = self.old
        if self.new is not MISSING:
            out["new"] = self.new
        out["secret"] = self.secret
        return out


@dataclass(frozen=True)
class FieldChange:
    """A resource field other than inputs/outputs (protect, provider, parent, dependencies...)."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class ResourceChange:
    """One resource that differs. ``op``: ``add``, ``remove``, ``replace`` or ``change``."""

    urn: str
    type: str
    op: str
    old_id: str | None = None
    new_id: str | None = None
    fields: tuple[FieldChange, ...] = ()
    properties: tuple[PropertyChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"urn": self.urn, "type": self.type, "op": self.op, "oldId": self.old_id, "newId": self.new_id,
                "fields": [f.to_dict() for f in self.fields],
                "properties": [p.to_dict() for p in self.properties]}


@dataclass(frozen=True)
class DeploymentDiff:
    """Everything that differs between an older and a newer deployment."""

    resources: tuple[ResourceChange, ...]
    outputs: tuple[PropertyChange, ...]
    same: int
    not_compared: tuple[str, ...]  # "<urn> <section>.<path>" of secrets that could not be compared
    old_pulumi_version: str | None = None
    new_pulumi_version: str | None = None
    secrets_provider_changed: bool = False
    old_pending: int = 0
    new_pending: int = 0

    def count(self, op: str) -> int:
        return sum(1 for r in self.resources if r.op == op)

    @property
    def summary(self) -> dict[str, int]:
        return {"add": self.count("add"), "remove": self.count("remove"), "replace": self.count("replace"),
                "change": self.count("change"), "same": self.same,
                "outputs": sum(1 for o in self.outputs if o.op != "not-compared"),
                "notCompared": len(self.not_compared)}

    @property
    def empty(self) -> bool:
        return not self.resources and not self.outputs and not self.not_compared

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "resources": [r.to_dict() for r in self.resources],
            "outputs": [o.to_dict() for o in self.outputs],
            "notCompared": list(self.not_compared),
            "pulumiVersion": {"old": self.old_pulumi_version, "new": self.new_pulumi_version},
            "secretsProviderChanged": self.secrets_provider_changed,
            "pendingOperations": {"old": self.old_pending, "new": self.new_pending},
        }


class _Side:
    """Secret access for one deployment: reveals plaintext, or reports that it cannot."""

    def __init__(self, reveal: Reveal | None, show: bool) -> None:
        self._reveal = reveal
        self.show = show

    def value(self, secret: Mapping[str, Any]) -> tuple[bool, Any]:
        if self._reveal is None:
            return False, None
        try:
            return True, self._reveal(secret)
        except (DecryptionFailed, CorruptInput):
            return False, None  # this secret only
        except PulumiDiyError:
            self._reveal = None  # no key (passphrase missing/wrong, KMS unreachable): stop trying
            return False, None

    def shown(self, value: Any) -> Any:
        """``value`` for display: secrets masked, or revealed when showing secrets and possible."""
        if value is MISSING:
            return MISSING
        if is_secret(value):
            if self.show:
                ok, plain = self.value(value)
                if ok:
                    return self.shown(plain)
            return MASK
        if isinstance(value, dict):
            return {k: self.shown(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.shown(v) for v in value]
        return value


def _atomic(v: Any) -> bool:
    # Assets, archives, resource references...: signature objects are compared as one value.
    return isinstance(v, dict) and SIG_KEY in v


class _Differ:
    def __init__(self, old: _Side, new: _Side) -> None:
        self.old = old
        self.new = new
        self.not_compared: list[str] = []

    def compare(self, a: Any, b: Any, path: list[str | int], section: str, urn: str,
                out: list[PropertyChange]) -> None:
        if json_equal(a, b):
            return
        where = format_property_path(path)
        if is_secret(a) or is_secret(b):
            self._compare_secrets(a, b, where, section, urn, out)
            return
        if isinstance(a, dict) and isinstance(b, dict) and not _atomic(a) and not _atomic(b):
            for k in list(a) + [k for k in b if k not in a]:
                if k not in b:
                    out.append(PropertyChange(section, format_property_path([*path, k]), "removed",
                                              old=self.old.shown(a[k]), secret=_has_secret(a[k])))
                elif k not in a:
                    out.append(PropertyChange(section, format_property_path([*path, k]), "added",
                                              new=self.new.shown(b[k]), secret=_has_secret(b[k])))
                else:
                    self.compare(a[k], b[k], [*path, k], section, urn, out)
            return
        if isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                if i >= len(b):
                    out.append(PropertyChange(section, format_property_path([*path, i]), "removed",
                                              old=self.old.shown(a[i]), secret=_has_secret(a[i])))
                elif i >= len(a):
                    out.append(PropertyChange(section, format_property_path([*path, i]), "added",
                                              new=self.new.shown(b[i]), secret=_has_secret(b[i])))
                else:
                    self.compare(a[i], b[i], [*path, i], section, urn, out)
            return
        out.append(PropertyChange(section, where, "changed", self.old.shown(a), self.new.shown(b),
                                  secret=_has_secret(a) or _has_secret(b)))

    def _compare_secrets(self, a: Any, b: Any, where: str, section: str, urn: str,
                         out: list[PropertyChange]) -> None:
        if is_secret(a) and is_secret(b):
            ok_a, plain_a = self.old.value(a)
            ok_b, plain_b = self.new.value(b)
            if not (ok_a and ok_b):
                self.not_compared.append(f"{urn} {section}.{where}" if where else f"{urn} {section}")
                out.append(PropertyChange(section, where, "not-compared", MASK, MASK, secret=True))
                return
            if json_equal(plain_a, plain_b):
                return
        # Different values, or a value that became (or stopped being) secret.
        out.append(PropertyChange(section, where, "changed", self.old.shown(a), self.new.shown(b),
                                  secret=True))


def _has_secret(v: Any) -> bool:
    if is_secret(v):
        return True
    if isinstance(v, dict):
        return any(_has_secret(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_secret(x) for x in v)
    return False


def _norm(v: Any) -> Any:
    # omitempty: absent, false, "", [] and {} all mean "not set".
    return None if v is None or v is False or v == "" or v == [] or v == {} else v


def _index(resources: Sequence[Any]) -> tuple[dict[str, dict[str, Any]], set[str], list[str]]:
    """URN -> live resource (the last one not marked ``delete``), URNs with pending-delete copies, order."""
    live: dict[str, dict[str, Any]] = {}
    doomed: set[str] = set()
    order: list[str] = []
    for r in resources:
        if not isinstance(r, dict) or not isinstance(r.get("urn"), str):
            continue
        urn = r["urn"]
        if urn not in live and urn not in doomed:
            order.append(urn)
        if r.get("delete"):
            doomed.add(urn)
            live.setdefault(urn, r)
        else:
            live[urn] = r
    return live, doomed, order


def _fields(a: dict[str, Any], b: dict[str, Any], *, skip: frozenset[str]) -> list[FieldChange]:
    names = [f for f in _FIELD_ORDER if f in a or f in b]
    names += sorted(k for k in set(a) | set(b) if k not in _FIELD_ORDER and k not in _IGNORED)
    out = []
    for name in names:
        if name in skip:
            continue
        old, new = _norm(a.get(name)), _norm(b.get(name))
        if not json_equal(old, new):
            out.append(FieldChange(name, mask_secrets(old), mask_secrets(new)))
    return out


def _root(live: dict[str, dict[str, Any]], order: list[str]) -> str | None:
    for urn in order:
        r = live[urn]
        if r.get("type") == STACK_TYPE and not r.get("parent"):
            return urn
    return None


def _same_provider(a: Any, b: Any) -> bool:
    a = a if isinstance(a, dict) else {}
    b = b if isinstance(b, dict) else {}
    return json_equal(a.get("type"), b.get("type")) and json_equal(a.get("state"), b.get("state"))


def diff_deployments(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *,
                     reveal_old: Reveal | None = None, reveal_new: Reveal | None = None,
                     show_secrets: bool = False) -> DeploymentDiff:
    """Compare two V3 deployments (``None`` = an empty stack).

    ``reveal_old``/``reveal_new`` return the plaintext value of a secret object of that deployment
    (e.g. ``lambda s: decrypt_secret_value(s, manager)``); a :class:`~pulumi_diy.errors.SecretsError`
    from them marks that side's secrets as not comparable.
    """
    old = old or {}
    new = new or {}
    differ = _Differ(_Side(reveal_old, show_secrets), _Side(reveal_new, show_secrets))
    live_a, doomed_a, order_a = _index(old.get("resources") or [])
    live_b, doomed_b, order_b = _index(new.get("resources") or [])
    root_a, root_b = _root(live_a, order_a), _root(live_b, order_b)

    changes: list[ResourceChange] = []
    same = 0
    for urn in order_b:
        b = live_b[urn]
        a = live_a.get(urn)
        if a is None:
            changes.append(ResourceChange(urn, str(b.get("type") or ""), "add", new_id=b.get("id") or None))
            continue
        old_id, new_id = a.get("id") or None, b.get("id") or None
        replaced = bool(old_id and new_id and old_id != new_id and a.get("custom") and b.get("custom")) or \
            (urn in doomed_b and urn not in doomed_a)
        props: list[PropertyChange] = []
        differ.compare(a.get("inputs") or {}, b.get("inputs") or {}, [], "inputs", urn, props)
        if not (urn == root_a and urn == root_b):  # the root's outputs are the stack outputs, below
            differ.compare(a.get("outputs") or {}, b.get("outputs") or {}, [], "outputs", urn, props)
        fields = _fields(a, b, skip=frozenset({"id"}) if replaced else frozenset())
        real = [p for p in props if p.op != "not-compared"]
        if replaced or real or fields:
            changes.append(ResourceChange(urn, str(b.get("type") or ""), "replace" if replaced else "change",
                                          old_id, new_id, tuple(fields), tuple(props)))
        else:
            same += 1
    for urn in order_a:
        if urn not in live_b:
            a = live_a[urn]
            changes.append(ResourceChange(urn, str(a.get("type") or ""), "remove",
                                          old_id=a.get("id") or None))

    outputs: list[PropertyChange] = []
    out_a = (live_a[root_a].get("outputs") or {}) if root_a else {}
    out_b = (live_b[root_b].get("outputs") or {}) if root_b else {}
    differ.compare(out_a, out_b, [], "outputs", root_b or root_a or "", outputs)

    def version(d: Mapping[str, Any]) -> str | None:
        return ((d.get("manifest") or {}).get("version") or None) if d else None

    return DeploymentDiff(
        resources=tuple(changes), outputs=tuple(outputs), same=same, not_compared=tuple(differ.not_compared),
        old_pulumi_version=version(old), new_pulumi_version=version(new),
        secrets_provider_changed=bool(old and new) and not _same_provider(old.get("secrets_providers"),
                                                                          new.get("secrets_providers")),
        old_pending=len(old.get("pending_operations") or []),
        new_pending=len(new.get("pending_operations") or []),
    )


def secret_reader(manager: Any) -> Reveal:
    """A ``reveal`` function for :func:`diff_deployments` over a secrets manager."""
    from ..secrets.values import decrypt_secret_value

    def reveal(secret: Mapping[str, Any]) -> Any:
        return decrypt_secret_value(secret, manager)

    return reveal
