"""URN parsing and provider references (Pulumi's rules, format doc 3.11)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_diy.errors import CorruptInput
from pulumi_diy.state.urn import (
    URN,
    is_provider_type,
    is_valid_urn,
    make_urn,
    parse_provider_reference,
    parse_urn,
    provider_reference,
)


def test_parse_urn() -> None:
    urn = parse_urn("urn:pulumi:dev::proj::my:component:Thing$aws:s3/bucket:Bucket::logs")
    qualified = "my:component:Thing$aws:s3/bucket:Bucket"
    assert urn == URN("dev", "proj", qualified, "aws:s3/bucket:Bucket", "logs")
    assert urn.parent_type == "my:component:Thing"
    assert str(urn) == "urn:pulumi:dev::proj::my:component:Thing$aws:s3/bucket:Bucket::logs"


def test_name_may_contain_delimiters() -> None:
    urn = parse_urn("urn:pulumi:dev::proj::pulumi:providers:aws::default::with::colons")
    assert (urn.type, urn.name, urn.parent_type) == ("pulumi:providers:aws", "default::with::colons", "")


@pytest.mark.parametrize(
    "bad", ["", "urn:pulumi:dev::proj::type", "urn:other:dev::proj::t::n", "dev::proj::t::n", "urn:pulumi:"]
)
def test_invalid_urns(bad: str) -> None:
    assert not is_valid_urn(bad)
    with pytest.raises(CorruptInput):
        parse_urn(bad)


def test_minimal_valid_urn() -> None:
    assert is_valid_urn("urn:pulumi:::::::")
    assert parse_urn("urn:pulumi:::::::") == URN("", "", "", "", "")
    assert not is_valid_urn(None)


def test_make_urn_skips_the_root_stack_type() -> None:
    assert make_urn("dev", "p", "pulumi:pulumi:Stack", "a:b:C", "n") == "urn:pulumi:dev::p::a:b:C::n"
    assert make_urn("dev", "p", "x:y:Z", "a:b:C", "n") == "urn:pulumi:dev::p::x:y:Z$a:b:C::n"


def test_provider_types() -> None:
    assert is_provider_type("pulumi:providers:aws")
    assert not is_provider_type("pulumi:providers:")
    assert not is_provider_type("pulumi:providers")
    assert not is_provider_type("other:providers:aws")
    assert not is_provider_type("aws:s3/bucket:Bucket")


def test_provider_reference_splits_at_the_last_delimiter() -> None:
    prov = "urn:pulumi:dev::proj::pulumi:providers:aws::default_6_0_0"
    assert parse_provider_reference(f"{prov}::abc-123") == (prov, "abc-123")
    assert parse_provider_reference(f"{prov}::") == (prov, "")
    assert provider_reference(prov, "") == f"{prov}::04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.mark.parametrize(
    "bad",
    ["no-delimiter", "urn:pulumi:dev::proj::aws:s3/bucket:Bucket::b::id", "urn:pulumi:dev::proj::id"],
)
def test_bad_provider_references(bad: str) -> None:
    with pytest.raises(CorruptInput):
        parse_provider_reference(bad)


_part = st.text(st.characters(blacklist_characters=":$", blacklist_categories=("Cs",)), max_size=6)


@given(_part, _part, _part, _part.filter(bool), st.text(max_size=12))
def test_make_and_parse_round_trip(stack: str, project: str, parent: str, base: str, name: str) -> None:
    parent_type = f"a:{parent}:T" if parent else ""
    base_type = f"b:{base}:R"
    urn = parse_urn(make_urn(stack, project, parent_type, base_type, name))
    assert (urn.stack, urn.project, urn.type, urn.name, urn.parent_type) == (
        stack, project, base_type, name, parent_type)
