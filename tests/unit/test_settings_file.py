"""Pulumi.<stack>.yaml: comment-preserving edits of secure values and provider fields, and discovery."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_diy.errors import CorruptInput
from pulumi_diy.secrets import PassphraseManager
from pulumi_diy.secrets.settings_file import (
    ProviderSettings,
    SettingsFile,
    _guess_indent,
    find_settings_file,
    write_settings_file,
)

ROUNDTRIP = "pulumi/extracted/roundtrip-Pulumi.test.input.yaml"
SALT = "v1:ThS5UPxP9qc=:v1:UZYAXF+ylaJ0rGhv:9OTvBnOEDFgxs7btjzSu+LZ470vLpg=="
SECURE_D = "v1:T1ftqhY0hqr+EJK6:+jvd5PMecFx80tcavzuZY4tLatgIfoe/xR72GA=="

NESTED = """\
# top comment
secretsprovider: awskms://alias/x?region=us-east-1
encryptedkey: QUJDRA==
config:
  app:db:
    user: admin  # plain
    password:
      secure: v1:AAAAAAAAAAAAAAAA:AAAA # the password
    hosts:
      - name: a
        token:
          secure: "v1:BBBBBBBBBBBBBBBB:BBBB"
      - secure: v1:CCCCCCCCCCCCCCCC:CCCC
  app:plain: x
  app:top:
    secure: 'v1:DDDDDDDDDDDDDDDD:DDDD'
environment:
  - env1
"""


def test_upstream_files_round_trip_unchanged(upstream: Path) -> None:
    for rel in (
        ROUNDTRIP,
        "pulumi/extracted/roundtrip-Pulumi.test.expected.yaml",
        "pulumi/stack-settings/Pulumi.dev.yaml",
    ):
        sf = SettingsFile.read(upstream / rel)
        assert sf.dump() == (upstream / rel).read_text(encoding="utf-8"), rel


def test_roundtrip_fixture_reencrypted_with_upstream_vector(upstream: Path) -> None:
    text = (upstream / ROUNDTRIP).read_text(encoding="utf-8")
    sf = SettingsFile(text, "Pulumi.test.yaml")
    assert sf.provider == ProviderSettings(encryptionsalt=SALT)
    assert sf.secure_values() == [("foo:d", SECURE_D)]
    old = PassphraseManager.from_state(SALT, "TestConfigRoundtripComments")
    new = PassphraseManager.new("another passphrase")
    assert sf.reencrypt(lambda path, ct: new.encrypt(old.decrypt(ct))) == 1
    sf.set_provider(ProviderSettings(encryptionsalt=new.state_string))
    out = sf.dump()
    ((path, ct),) = SettingsFile(out, "x").secure_values()
    assert path == "foo:d" and new.decrypt(ct) == "secret-value"
    # same-length values: every other byte, comments included, is where it was
    before, after = text.splitlines(), out.splitlines()
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert [before[i].split(":")[0].strip() for i in changed] == ["encryptionsalt", "secure"]
    assert after[changed[1]].endswith("# 🟣 comment on secret")
    for mark in "🔴🟠🟡🟢🔵🟣🟥":
        assert mark in out


def test_passphrase_to_cloud_and_back_keeps_comments_and_order(upstream: Path) -> None:
    text = (upstream / ROUNDTRIP).read_text(encoding="utf-8")
    sf = SettingsFile(text, "x")
    sf.set_provider(
        ProviderSettings(secretsprovider="awskms://alias/k?region=eu-west-1&context_a=b", encryptedkey="QUJD")
    )
    cloud = sf.dump()
    lines = cloud.splitlines()
    assert lines[:3] == [
        "secretsprovider: awskms://alias/k?region=eu-west-1&context_a=b",
        "encryptedkey: QUJD",
        "# 🔴 header comment",
    ]
    assert "encryptionsalt" not in cloud and cloud.endswith("# 🟥 footer comment\n")
    back = SettingsFile(cloud, "x")
    assert back.provider.kind == "cloud"
    back.set_provider(ProviderSettings(encryptionsalt=SALT))
    assert back.dump() == text


def test_nested_secure_values_quotes_and_comment_columns() -> None:
    sf = SettingsFile(NESTED, "x")
    assert [p for p, _ in sf.secure_values()] == [
        "app:db.password",
        "app:db.hosts[0].token",
        "app:db.hosts[1]",
        "app:top",
    ]
    sf.reencrypt(lambda path, ct: ct.replace("v1:", "v1:XY"))
    out = sf.dump()
    assert "      secure: v1:XYAAAAAAAAAAAAAAAA:AAAA # the password" in out
    assert 'secure: "v1:XYBBBBBBBBBBBBBBBB:BBBB"' in out and "secure: 'v1:XYDDDDDDDDDDDDDDDD:DDDD'" in out
    assert "      - secure: v1:XYCCCCCCCCCCCCCCCC:CCCC" in out
    assert out.replace("v1:XY", "v1:") == NESTED


def test_cloud_to_passphrase_removes_provider_fields() -> None:
    sf = SettingsFile(NESTED, "x")
    sf.set_provider(ProviderSettings(encryptionsalt=SALT))
    out = sf.dump()
    assert out.startswith(f"# top comment\nencryptionsalt: {SALT}\nconfig:\n")
    assert "secretsprovider" not in out and "encryptedkey" not in out


def test_provider_fields_added_to_a_file_without_them() -> None:
    sf = SettingsFile("config:\n  a:b: c\n", "x")
    assert sf.provider.kind == ""
    sf.set_provider(ProviderSettings(encryptionsalt=SALT))
    assert sf.dump() == f"encryptionsalt: {SALT}\nconfig:\n  a:b: c\n"
    empty = SettingsFile("", "x")
    empty.set_provider(ProviderSettings(secretsprovider="hashivault://k", encryptedkey="QQ=="))
    assert empty.dump() == "secretsprovider: hashivault://k\nencryptedkey: QQ==\n"


def test_four_space_indent_is_kept() -> None:
    text = (
        "encryptionsalt: x\nconfig:\n    a:b:\n        secure: v1:A\n    a:c:\n    - 1\n    - secure: v1:B\n"
    )
    assert _guess_indent(text) == (4, 0)
    sf = SettingsFile(text, "x")
    sf.reencrypt(lambda p, ct: ct + "Z")
    assert sf.dump() == text.replace("v1:A", "v1:AZ").replace("v1:B", "v1:BZ")


@pytest.mark.parametrize(
    "text, message",
    [
        ("config: [1, 2\n", "invalid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("config: 3\n", "`config` is not a mapping"),
    ],
)
def test_bad_files(text: str, message: str) -> None:
    with pytest.raises(CorruptInput, match=message):
        SettingsFile(text, "Pulumi.bad.yaml")


def test_bad_provider_field() -> None:
    with pytest.raises(CorruptInput, match="`encryptionsalt` is not a string"):
        _ = SettingsFile("encryptionsalt: [1]\n", "x").provider


def test_find_settings_file_layouts(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "Pulumi.dev.yaml").write_text("config: {}\n")
    assert find_settings_file(flat, "infra", "dev") == flat / "Pulumi.dev.yaml"
    assert find_settings_file(flat, "infra", "prod") is None
    (flat / "Pulumi.yaml").write_text("name: web\nruntime: python\n")
    assert find_settings_file(flat, "infra", "dev") is None  # that folder is project web's
    assert find_settings_file(flat, "web", "dev") == flat / "Pulumi.dev.yaml"
    nested = tmp_path / "nested"
    (nested / "infra").mkdir(parents=True)
    (nested / "infra" / "Pulumi.dev.yml").write_text("config: {}\n")
    (nested / "Pulumi.dev.yaml").write_text("config: {}\n")
    assert find_settings_file(nested, "infra", "dev") == nested / "infra" / "Pulumi.dev.yml"
    assert find_settings_file(nested, "web", "dev") == nested / "Pulumi.dev.yaml"
    (nested / "Pulumi.org-dev.yaml").write_text("config: {}\n")
    assert find_settings_file(nested, None, "org/dev") == nested / "Pulumi.org-dev.yaml"


def test_write_settings_file_is_atomic_and_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    write_settings_file(path, "new\n")
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.dev.yaml"]


_keys = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
_leaf = st.one_of(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    st.from_regex(r"v1:[A-Za-z0-9+/]{4}:[A-Za-z0-9+/]{4}", fullmatch=True).map(lambda s: {"secure": s}),
)
_tree = st.recursive(
    _leaf,
    lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=3), st.dictionaries(_keys, kids, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys.map(lambda k: f"proj:{k}"), _tree, min_size=1, max_size=4))
def test_reencrypt_touches_exactly_the_secure_values(config: dict) -> None:
    import io

    from ruamel.yaml import YAML

    y = YAML()
    y.width = 1 << 30
    y.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    y.dump({"encryptionsalt": SALT, "config": config}, buf)
    text = buf.getvalue()
    sf = SettingsFile(text, "x")
    assert sf.dump() == text
    found = sf.secure_values()
    sf.reencrypt(lambda path, ct: ct[::-1])
    again = SettingsFile(sf.dump(), "x")
    assert [(p, ct[::-1]) for p, ct in again.secure_values()] == found

    def norm(v: object) -> object:
        return json.loads(json.dumps(v))

    def flip(v: object) -> object:
        if isinstance(v, dict) and set(v) == {"secure"}:
            return {"secure": v["secure"][::-1]}
        if isinstance(v, dict):
            return {k: flip(x) for k, x in v.items()}
        if isinstance(v, list):
            return [flip(x) for x in v]
        return v

    assert norm(again.data["config"]) == flip(norm(config))
