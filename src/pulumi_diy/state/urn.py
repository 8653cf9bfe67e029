"""Pulumi URNs and provider references (P ``sdk/go/common/resource/urn/urn.go``,
``sdk/go/common/providers/reference.go``; format doc section 3.11)."""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_diy.errors import CorruptInput

URN_PREFIX = "urn:pulumi:"
NAME_DELIMITER = "::"
TYPE_DELIMITER = "$"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_MODULE = "pulumi:providers"
UNKNOWN_ID = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class URN:
    """The parts of ``urn:pulumi:<stack>::<project>::<qualified type>::<name>``.

    ``qualified_type`` is the ``$``-joined chain of parent types and the resource type; ``type`` is
    its last element. ``name`` is everything after the third ``::`` (it may contain ``::``).
    """

    stack: str
    project: str
    qualified_type: str
    type: str
    name: str

    def __str__(self) -> str:
        return make_urn(self.stack, self.project, "", self.qualified_type, self.name)

    @property
    def parent_type(self) -> str:
        """The qualified type of the parent chain ("" for a resource directly under the stack)."""
        head, sep, _ = self.qualified_type.rpartition(TYPE_DELIMITER)
        return head if sep else ""


def is_valid_urn(s: object) -> bool:
    """Pulumi's test: the ``urn:pulumi:`` prefix and at least three ``::`` delimiters."""
    return isinstance(s, str) and s.startswith(URN_PREFIX) and s.count(NAME_DELIMITER) >= 3


def parse_urn(s: str) -> URN:
    """Split a URN into its parts; raises :class:`CorruptInput` when it is not a valid URN."""
    if not is_valid_urn(s):
        raise CorruptInput(f"invalid URN {s!r}")
    stack, project, qualified_type, name = s[len(URN_PREFIX):].split(NAME_DELIMITER, 3)
    return URN(stack, project, qualified_type, qualified_type.rpartition(TYPE_DELIMITER)[2], name)


def make_urn(stack: str, project: str, parent_type: str, base_type: str, name: str) -> str:
    """Build a URN the way Pulumi does (the root stack type is never part of the type chain)."""
    typ = base_type
    if parent_type and parent_type != ROOT_STACK_TYPE:
        typ = parent_type + TYPE_DELIMITER + typ
    return URN_PREFIX + NAME_DELIMITER.join((stack, project, typ, name))


def is_provider_type(type_token: str) -> bool:
    """True for ``pulumi:providers:<pkg>`` type tokens."""
    package, _, rest = type_token.partition(":")
    module, sep, name = rest.partition(":")
    return bool(sep) and f"{package}:{module}" == PROVIDER_MODULE and name != ""


def _check_provider_urn(urn: str, where: str) -> None:
    if not is_valid_urn(urn):
        raise CorruptInput(f"{where}: {urn} is not a valid URN")
    typ = parse_urn(urn).type
    if not is_provider_type(typ):
        raise CorruptInput(f"{where}: expected a 'pulumi:providers' type, got {typ!r}")


def parse_provider_reference(ref: str) -> tuple[str, str]:
    """Split ``<provider URN>::<provider ID>`` at the **last** ``::``; the URN must name a provider.

    Raises :class:`CorruptInput` for a malformed reference.
    """
    sep = ref.rfind(NAME_DELIMITER) if isinstance(ref, str) else -1
    if sep == -1:
        raise CorruptInput(f"expected '::' in provider reference {ref!r}")
    urn, provider_id = ref[:sep], ref[sep + len(NAME_DELIMITER):]
    _check_provider_urn(urn, f"provider reference {ref!r}")
    return urn, provider_id


def provider_reference(urn: str, provider_id: str) -> str:
    """The reference string for a provider resource (an empty ID becomes Pulumi's unknown ID)."""
    _check_provider_urn(urn, f"provider {urn!r}")
    return urn + NAME_DELIMITER + (provider_id or UNKNOWN_ID)
