"""secrets rotate / change-provider on every storage kind: every file (current, .bak, retained copies,
history checkpoints and config, backups, Pulumi.<stack>.yaml) ends under the new key with the same
plaintexts, checked with an independent decoder; errors write nothing."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_diy.errors import (
    DecryptionFailed,
    IncorrectPassphrase,
    SecretsError,
    StackLocked,
    UnknownSecretsProvider,
)
from pulumi_diy.secrets import passphrase as passphrase_module
from pulumi_diy.secrets.rekey import Target, rekey, select_stacks
from pulumi_diy.secrets.verify import verify_secrets
from pulumi_diy.synth import SynthSpec, generate
from tests.backends import BackendTarget

OLD, NEW = "old passphrase", "new passphrase"
SIG = "4dabf18193072939515e22adb298388d"
COMMENT = "# rotated by pulumi-diy tests: keep me\n"

# --- an independent decoder: hashlib PBKDF2 + AES-GCM, raw JSON walking --------------------------------

_derived: dict[tuple[str, str], bytes] = {}


def passphrase_key(passphrase: str, state: str) -> bytes:
    salt = state.split(":")[1]
    if (passphrase, salt) not in _derived:
        _derived[passphrase, salt] = hashlib.pbkdf2_hmac(
            "sha256", passphrase.encode(), base64.b64decode(salt), 1_000_000, 32
        )
    return _derived[passphrase, salt]


def aes_decrypt(key: bytes, ciphertext: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version, nonce, sealed = ciphertext.split(":")
    assert version == "v1"
    return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()


def aes_encrypt(key: bytes, plaintext: str) -> str:
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def unpack(data: bytes) -> bytes:
    if data[:3] == b"\x1f\x8b\x08":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def _walk(v: Any, found: list[str], state: bool) -> None:
    if isinstance(v, dict):
        if state and v.get(SIG) == "1b47061264138c4ac30d75fd1eb44270":
            found.append(v["ciphertext"])
            return
        if not state and set(v) == {"secure"} and isinstance(v["secure"], str):
            found.append(v["secure"])
            return
        for x in v.values():
            _walk(x, found, state)
    elif isinstance(v, list):
        for x in v:
            _walk(x, found, state)


def state_files(backend: Any) -> dict[str, tuple[Any, list[str]]]:
    """Every file under stacks/, history/, backups/ -> (secrets_providers or None, ciphertexts)."""
    out = {}
    for o in backend.store.list(".pulumi", recursive=True):
        if not o.key.startswith(
            (".pulumi/stacks/", ".pulumi/history/", ".pulumi/backups/")
        ) or o.key.endswith(".pulumi-tags"):
            continue
        doc = json.loads(unpack(backend.store.read(o.key)))
        found: list[str] = []
        if ".history.json" in o.key:
            _walk(doc.get("config"), found, state=False)
            out[o.key] = (None, found)
        else:
            latest = (doc.get("checkpoint") or {}).get("latest") or {}
            _walk(latest.get("resources"), found, state=True)
            out[o.key] = (latest.get("secrets_providers"), found)
    return out


def settings_files(cfg: Path) -> dict[str, tuple[dict[str, Any], list[str]]]:
    out = {}
    for p in sorted(cfg.rglob("Pulumi.*.yaml")):
        doc = yaml.safe_load(p.read_text())
        found: list[str] = []
        _walk(doc.get("config"), found, state=False)
        out[str(p)] = (
            {k: doc[k] for k in ("secretsprovider", "encryptedkey", "encryptionsalt") if k in doc},
            found,
        )
    return out


def stack_of(key: str) -> str:
    """`infra/dev` for any file of that stack (backend key or settings path)."""
    if key.endswith(".yaml"):
        p = Path(key)
        return f"{p.parent.name}/{p.name[len('Pulumi.') : -len('.yaml')]}"
    parts = key.split("/")
    if parts[1] == "stacks":
        return f"{parts[2]}/{parts[3].split('.json')[0]}"
    return f"{parts[2]}/{parts[3]}"


def snapshot(backend: Any, cfg: Path | None = None) -> dict[str, bytes]:
    out = {
        o.key: backend.store.read(o.key)
        for o in backend.store.list("", recursive=True)
        if not o.key.startswith(".pulumi/locks/")
    }
    if cfg is not None:
        out.update({str(p): p.read_bytes() for p in cfg.rglob("*") if p.is_file()})
    return out


def plaintexts(
    files: dict[str, tuple[Any, list[str]]], key_for: Callable[[str, Any], bytes]
) -> dict[str, list[str]]:
    return {k: [aes_decrypt(key_for(k, sp), ct) for ct in cts] for k, (sp, cts) in files.items()}


def all_fail(files: dict[str, tuple[Any, list[str]]], key: bytes) -> None:
    from cryptography.exceptions import InvalidTag

    for k, (_, cts) in files.items():
        for ct in cts:
            with pytest.raises(InvalidTag):
                aes_decrypt(key, ct)
            assert k


# --- a realistic backend --------------------------------------------------------------------------------


def make_backend(
    target: BackendTarget, tmp_path: Path, *, stacks: tuple[str, ...] = ("dev",), history: int = 2
) -> tuple[Any, Path, str]:
    """A synth backend (passphrase OLD) with settings files under <cfg>/<project>/; returns the old salt."""
    backend = target.open(use_cache=False)
    report = generate(
        backend,
        SynthSpec(
            projects=["infra", "web"],
            stacks=list(stacks),
            resources=6,
            history=history,
            backups=1,
            passphrase=OLD,
            compression={"web/dev": "gzip", "infra/prod": "zstd"},
            indented={"infra/dev"},
        ),
    )
    cfg = tmp_path / f"cfg-{uuid.uuid4().hex[:6]}"
    for label, text in report.configs.items():
        project, stack = label.split("/")
        (cfg / project).mkdir(parents=True, exist_ok=True)
        (cfg / project / f"Pulumi.{stack}.yaml").write_text(text.replace("config:\n", f"{COMMENT}config:\n"))
    salt = yaml.safe_load(report.configs["infra/dev"])["encryptionsalt"]
    return backend, cfg, salt


def current_sp(backend: Any, stack: str) -> dict[str, Any]:
    ref = backend.resolve(stack)
    return backend.read_checkpoint(ref).secrets_providers  # type: ignore[no-any-return]


def assert_all_under(
    backend: Any,
    cfg: Path,
    before: dict[str, list[str]],
    key_of_stack: Callable[[str], bytes],
    sp_of_stack: Callable[[str], Any],
) -> None:
    """Every file decrypts with its stack's new key to the plaintexts it had; checkpoints and settings
    name that key."""
    files = state_files(backend)
    for key, (sp, _) in files.items():
        if sp is not None:
            assert sp == sp_of_stack(stack_of(key)), key
    cfg_files = settings_files(cfg)
    after = plaintexts({**files, **cfg_files}, lambda k, _: key_of_stack(stack_of(k)))
    assert after == before
    for path, (fields, _) in cfg_files.items():
        state = sp_of_stack(stack_of(path))["state"]
        expected = (
            {"encryptionsalt": state["salt"]}
            if "salt" in state
            else {"secretsprovider": state["url"], "encryptedkey": state["encryptedkey"]}
        )
        assert fields == expected, path
        assert COMMENT in Path(path).read_text()


def test_rotate_every_file_of_every_stack(target: BackendTarget, tmp_path: Path, monkeypatch: Any) -> None:
    backend, cfg, salt = make_backend(target, tmp_path)
    # a retained copy (PULUMI_RETAIN_CHECKPOINTS) is a checkpoint too
    cur = backend.current_object(backend.resolve("infra/dev")).key
    backend.store.write(cur + ".1791112140423938499", backend.store.read(cur))
    old_key = passphrase_key(OLD, salt)
    files, cfg_files = state_files(backend), settings_files(cfg)
    assert sum(len(c) for _, c in files.values()) >= 15
    before = plaintexts({**files, **cfg_files}, lambda k, sp: old_key)
    raw_before = snapshot(backend)
    monkeypatch.setattr(passphrase_module, "_keys", {})  # count derivations from here
    refs = select_stacks(backend, all_stacks=True)
    result = rekey(backend, refs, passphrase=lambda: OLD, new_passphrase=lambda: NEW, config_dir=cfg)
    assert result.status == "done" and not result.warnings
    assert len(passphrase_module._keys) == 1 + len(refs)  # the old salt once, one new salt per stack
    sps = {str(r): current_sp(backend, str(r)) for r in refs}
    assert len({sp["state"]["salt"] for sp in sps.values()} | {salt}) == len(refs) + 1
    assert_all_under(
        backend, cfg, before, lambda s: passphrase_key(NEW, sps[s]["state"]["salt"]), sps.__getitem__
    )
    all_fail({**state_files(backend), **settings_files(cfg)}, old_key)
    raw_after = snapshot(backend)
    assert set(raw_after) == set(
        raw_before
    )  # nothing added (no backup copies of old-key files), nothing lost
    for key, data in raw_before.items():  # same compression and JSON style; only ciphertexts/salts differ
        new = raw_after[key]
        assert new[:2] == data[:2], key
        if key.endswith(".json"):
            assert new.startswith(b"{\n") == data.startswith(b"{\n"), key
            masked = [json.dumps(_masked(json.loads(unpack(x)))) for x in (data, new)]
            assert masked[0] == masked[1], key
    assert verify_secrets(backend, refs, passphrases=[lambda: NEW], config_dir=cfg).ok


def _masked(v: Any) -> Any:
    if isinstance(v, dict):
        if "ciphertext" in v or set(v) == {"secure"} or "salt" in v:
            return "<masked>"
        return {k: _masked(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_masked(x) for x in v]
    return v


def test_dry_run_and_unselected_stacks_write_nothing(target_factory: Any, tmp_path: Path) -> None:
    backend, cfg, _ = make_backend(target_factory("file"), tmp_path)
    raw = snapshot(backend, cfg)
    plan = rekey(
        backend,
        [backend.resolve("infra/dev")],
        passphrase=lambda: OLD,
        new_passphrase=lambda: pytest.fail("a dry run asks for no new passphrase"),
        config_dir=cfg,
        dry_run=True,
    )
    assert plan.status == "planned" and plan.files_to_rewrite == 8 and snapshot(backend, cfg) == raw
    rekey(
        backend,
        select_stacks(backend, project="infra"),
        passphrase=lambda: OLD,
        new_passphrase=lambda: NEW,
        config_dir=cfg,
    )
    after = snapshot(backend, cfg)
    changed = {k for k in raw if raw[k] != after[k]}
    assert changed and all("infra" in k for k in changed)
    assert all(raw[k] == after[k] for k in raw if "/web/" in k)


def _corrupt_ciphertext(backend: Any) -> str:
    key = next(k for k in state_files(backend) if k.startswith(".pulumi/backups/infra/"))
    text = backend.store.read(key).decode()
    ct = json.loads(text)["checkpoint"]["latest"]["resources"][0]["outputs"]["dbPassword"]["ciphertext"]
    backend.store.write(
        key, text.replace(ct, ct[:-6] + ("AAAA==" if not ct.endswith("AAAA==") else "BBBB==")).encode()
    )
    return key


def _set_provider(backend: Any, sp: dict[str, Any]) -> str:
    key = next(k for k in state_files(backend) if k.startswith(".pulumi/history/web/") and "checkpoint" in k)
    doc = json.loads(unpack(backend.store.read(key)))  # written back uncompressed: readers go by magic bytes
    doc["checkpoint"]["latest"]["secrets_providers"] = sp
    backend.store.write(key, json.dumps(doc).encode())
    return key


@pytest.mark.parametrize(
    "damage, error, message",
    [
        (None, IncorrectPassphrase, "incorrect passphrase"),
        (_corrupt_ciphertext, DecryptionFailed, "backups/infra/dev/dev.*cannot decrypt"),
        (
            lambda b: _set_provider(
                b,
                {
                    "type": "service",
                    "state": {"url": "https://api.pulumi.com", "owner": "o", "project": "p", "stack": "s"},
                },
            ),
            UnknownSecretsProvider,
            "Pulumi Cloud",
        ),
        (lambda b: _set_provider(b, {"type": "vaultish", "state": {}}), UnknownSecretsProvider, "vaultish"),
    ],
)
def test_errors_write_nothing(
    target_factory: Any, tmp_path: Path, damage: Any, error: type, message: str
) -> None:
    backend, cfg, _ = make_backend(target_factory("file"), tmp_path)
    if damage is not None:
        damage(backend)
    raw = snapshot(backend, cfg)
    with pytest.raises(error, match=message):
        rekey(
            backend,
            select_stacks(backend, all_stacks=True),
            passphrase=lambda: "wrong" if damage is None else OLD,
            new_passphrase=lambda: NEW,
            config_dir=cfg,
        )
    assert snapshot(backend, cfg) == raw
    assert not backend.store.list(".pulumi/pulumi-diy", recursive=True)


def test_locked_stack_refused_before_any_write(target_factory: Any, tmp_path: Path) -> None:
    backend, cfg, _ = make_backend(target_factory("file"), tmp_path)
    lock = f"{backend.layout.lock_dir(backend.resolve('web/dev'))}/{uuid.uuid4()}.json"
    backend.store.write(
        lock, b'{"pid":1,"username":"ci","hostname":"elsewhere","timestamp":"2026-01-01T00:00:00Z"}'
    )
    raw = snapshot(backend, cfg)
    with pytest.raises(StackLocked, match="currently locked"):
        rekey(
            backend,
            select_stacks(backend, all_stacks=True),
            passphrase=lambda: OLD,
            new_passphrase=lambda: NEW,
            config_dir=cfg,
        )
    assert snapshot(backend, cfg) == raw
    assert [o.key for o in backend.store.list(".pulumi/locks", recursive=True)] == [lock]


def test_history_under_older_keys_and_hand_made_secrets(target_factory: Any, tmp_path: Path) -> None:
    """Pulumi's change-secrets-provider leaves history under the previous salt (pulumi#5717); secrets
    written by an independent encoder (nested too) decrypt and rotate."""
    from pulumi_diy.secrets import PassphraseManager
    from pulumi_diy.secrets.keys import KeyId
    from pulumi_diy.secrets.rewrite import rewrite_checkpoint
    from pulumi_diy.secrets.scan import StackFile, parse_stack_file

    backend, cfg, salt = make_backend(target_factory("file"), tmp_path)
    ref = backend.resolve("infra/dev")
    second = PassphraseManager.new(OLD)
    cur = backend.current_object(ref).key
    pf = parse_stack_file(backend, StackFile(cur, "current"), backend.store.read(cur))
    first = PassphraseManager.from_state(salt, OLD)
    data = rewrite_checkpoint(pf, first, second, KeyId("passphrase", second.state_string))
    doc = json.loads(data)
    key = passphrase_key(OLD, second.state_string)
    inner = json.dumps({SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": json.dumps("nested-pt")})
    doc["checkpoint"]["latest"]["resources"][0]["outputs"]["handMade"] = {
        SIG: "1b47061264138c4ac30d75fd1eb44270",
        "ciphertext": aes_encrypt(key, json.dumps({"a": [inner]})),
    }
    backend.store.write(cur, json.dumps(doc, indent=4).encode() + b"\n")
    check = verify_secrets(backend, [ref], passphrases=[lambda: OLD], config_dir=cfg)
    assert check.ok and len(check.stacks[0].keys) == 2
    assert any("2 different keys" in w for w in check.stacks[0].warnings)
    assert any("the settings file names" in w for w in check.stacks[0].warnings)
    files = {**state_files(backend), **settings_files(cfg)}
    before = plaintexts(
        files, lambda k, sp: passphrase_key(OLD, sp["state"]["salt"] if sp and "state" in sp else salt)
    )
    rekey(backend, [ref], passphrase=lambda: OLD, new_passphrase=lambda: NEW, config_dir=cfg)
    sp = current_sp(backend, "infra/dev")
    after = {k: v for k, v in before.items() if "infra" in k}
    assert_all_under(
        backend,
        cfg,
        {**after, **{k: v for k, v in before.items() if "web" in k}},
        lambda s: passphrase_key(NEW, sp["state"]["salt"]) if s == "infra/dev" else passphrase_key(OLD, salt),
        lambda s: sp if s == "infra/dev" else {"type": "passphrase", "state": {"salt": salt}},
    )
    assert {"a": [inner]} in [json.loads(p) for p in before[cur]]


def test_history_under_another_passphrase_fails_clearly(target_factory: Any, tmp_path: Path) -> None:
    from pulumi_diy.secrets import PassphraseManager
    from pulumi_diy.secrets.rewrite import rewrite_history
    from pulumi_diy.secrets.scan import StackFile, parse_stack_file

    backend, cfg, salt = make_backend(target_factory("file"), tmp_path)
    key = next(
        k for k in state_files(backend) if k.startswith(".pulumi/history/web/") and "history.json" in k
    )
    pf = parse_stack_file(backend, StackFile(key, "history"), backend.store.read(key))
    backend.store.write(
        key, rewrite_history(pf, PassphraseManager.from_state(salt, OLD), PassphraseManager.new("forgotten"))
    )
    checked = verify_secrets(backend, [backend.resolve("web/dev")], passphrases=[lambda: OLD])
    assert not checked.ok
    bad = [f for f in checked.stacks[0].files if f.status == "failed"]
    assert [f.key for f in bad] == [key] and "no known key" in (bad[0].error or "")
    raw = snapshot(backend, cfg)
    with pytest.raises(DecryptionFailed, match=f"{key.rpartition('/')[2]}: no key of stack web/dev decrypts"):
        rekey(
            backend,
            select_stacks(backend, all_stacks=True),
            passphrase=lambda: OLD,
            new_passphrase=lambda: NEW,
            config_dir=cfg,
        )
    assert snapshot(backend, cfg) == raw


# --- KMS: passphrase -> awskms (moto) -> rotate -> hashivault (OpenBao) -> passphrase ---------------------


def test_change_provider_through_kms_and_back(
    target_factory: Any, tmp_path: Path, moto_endpoint: str, vault_addr: tuple[str, str]
) -> None:
    import boto3
    import hvac

    kms = boto3.client("kms", endpoint_url=moto_endpoint, region_name="us-east-1")
    alias = f"alias/rekey-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    vault = hvac.Client(url=vault_addr[0], token=vault_addr[1])
    mount = f"transit-{uuid.uuid4().hex[:8]}"
    vault.sys.enable_secrets_engine("transit", path=mount)
    vault.secrets.transit.create_key(name="pulumi", mount_point=mount)
    target = target_factory("file")
    target.env.update({"VAULT_ADDR": vault_addr[0], "VAULT_TOKEN": vault_addr[1]})
    backend, cfg, salt = make_backend(target, tmp_path)
    refs = select_stacks(backend, all_stacks=True)
    before = plaintexts(
        {**state_files(backend), **settings_files(cfg)}, lambda k, sp: passphrase_key(OLD, salt)
    )

    def data_key(sp: dict[str, Any]) -> bytes:
        state = sp["state"]
        if "salt" in state:
            return passphrase_key(NEW, state["salt"])
        wrapped = base64.b64decode(state["encryptedkey"])
        if state["url"].startswith("awskms://"):
            return bytes(kms.decrypt(CiphertextBlob=wrapped)["Plaintext"])
        out = vault.secrets.transit.decrypt_data(
            name="pulumi", ciphertext=wrapped.decode(), mount_point=mount
        )
        return base64.b64decode(out["data"]["plaintext"])

    def check(url: str | None) -> dict[str, Any]:
        sps = {str(r): current_sp(backend, str(r)) for r in refs}
        for sp in sps.values():
            assert sp["type"] == ("cloud" if url else "passphrase") and sp["state"].get("url") == url
        assert_all_under(backend, cfg, before, lambda s: data_key(sps[s]), sps.__getitem__)
        return sps

    aws = f"awskms://{alias}?region=us-east-1&endpoint={moto_endpoint}"
    raw = snapshot(backend, cfg)
    with pytest.raises(SecretsError, match="AWS KMS"):  # no such key: nothing written
        rekey(
            backend,
            refs,
            target=Target.parse(aws.replace(alias, "alias/missing")),
            passphrase=lambda: OLD,
            config_dir=cfg,
        )
    assert snapshot(backend, cfg) == raw
    rekey(backend, refs, target=Target.parse(aws), passphrase=lambda: OLD, config_dir=cfg)
    first = check(aws)
    assert len({sp["state"]["encryptedkey"] for sp in first.values()}) == len(refs)  # a data key per stack
    rekey(backend, refs, passphrase=lambda: pytest.fail("no passphrase for a KMS rotation"), config_dir=cfg)
    second = check(aws)
    assert all(second[s]["state"]["encryptedkey"] != first[s]["state"]["encryptedkey"] for s in second)
    rekey(backend, refs, target=Target.parse(f"hashivault://pulumi?engine={mount}"), config_dir=cfg)
    check(f"hashivault://pulumi?engine={mount}")
    rekey(backend, refs, target=Target.parse("passphrase"), new_passphrase=lambda: NEW, config_dir=cfg)
    check(None)


def test_flat_config_dir_shared_by_two_projects_is_refused(target_factory: Any, tmp_path: Path) -> None:
    from pulumi_diy.errors import UsageError

    backend, cfg, _ = make_backend(target_factory("file"), tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "Pulumi.dev.yaml").write_bytes((cfg / "infra" / "Pulumi.dev.yaml").read_bytes())
    with pytest.raises(UsageError, match="settings file of both infra/dev and web/dev"):
        rekey(backend, select_stacks(backend, all_stacks=True), passphrase=lambda: OLD, config_dir=flat)


def test_legacy_layout(target_factory: Any, tmp_path: Path) -> None:
    target = target_factory("file")
    backend = target.open(use_cache=False)
    report = generate(
        backend,
        SynthSpec(
            projects=["legacy"],
            stacks=["dev"],
            resources=6,
            history=2,
            backups=1,
            passphrase=OLD,
            legacy=True,
        ),
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(report.configs["legacy/dev"])
    backend = target.open(use_cache=False)
    assert not backend.meta.project_mode
    refs = select_stacks(backend, all_stacks=True)
    result = rekey(backend, refs, passphrase=lambda: OLD, new_passphrase=lambda: NEW, config_dir=tmp_path)
    assert [s.stack for s in result.stacks] == ["dev"] and result.files_to_rewrite == 8
    assert verify_secrets(backend, refs, passphrases=[lambda: NEW], config_dir=tmp_path).ok
