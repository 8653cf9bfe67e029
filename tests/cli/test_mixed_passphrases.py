"""A stack whose files are under two passphrases, as `pulumi stack change-secrets-provider` leaves it
(current checkpoint and settings file under the new one, history and backups under the old one):
PULUMI_DIY_OLD_PASSPHRASE[_FILE] opens the older files for verify, rotate, restore and diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pulumi_diy.secrets.rekey import rekey
from tests.cli.test_secrets_cli import cli
from tests.storage.test_rekey import NEW, OLD, make_backend, snapshot

MID = "middle passphrase"


@pytest.fixture
def mixed(target_factory: Any, tmp_path: Path) -> dict[str, Any]:
    target = target_factory("file")
    backend, cfg, _ = make_backend(target, tmp_path)
    ref = backend.resolve("infra/dev")
    before = snapshot(backend)
    rekey(backend, [ref], passphrase=lambda: OLD, new_passphrase=lambda: MID, config_dir=cfg)
    for key, data in before.items():  # put the history back as it was: under OLD
        if key.startswith(".pulumi/history/infra/dev/"):
            backend.store.write(key, data)
    env = {"PULUMI_BACKEND_URL": target.url, "PULUMI_DIY_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    return {"backend": backend, "cfg": cfg, "env": env, "secrets": {OLD, NEW, MID, "pw-infra-dev"}}


def test_verify_and_rotate_need_both_passphrases(mixed: dict[str, Any], tmp_path: Path) -> None:
    cfg = str(mixed["cfg"])
    failed = cli(mixed, ["secrets", "verify", "infra/dev", "--config-dir", cfg], 7, PULUMI_CONFIG_PASSPHRASE=MID)
    assert "FAILED" in failed.stdout or "incorrect passphrase" in failed.stdout
    cli(mixed, ["secrets", "verify", "infra/dev", "--config-dir", cfg], 0,
        PULUMI_CONFIG_PASSPHRASE=MID, PULUMI_DIY_OLD_PASSPHRASE=OLD)
    refused = cli(mixed, ["secrets", "rotate", "infra/dev", "--config-dir", cfg, "--yes"], 7,
                  PULUMI_CONFIG_PASSPHRASE=MID, PULUMI_DIY_NEW_PASSPHRASE=NEW)
    assert "PULUMI_DIY_OLD_PASSPHRASE" in refused.stderr
    old_file = tmp_path / "old-passphrase.txt"
    old_file.write_text(OLD + "\n")
    old_file.chmod(0o600)
    cli(mixed, ["secrets", "rotate", "infra/dev", "--config-dir", cfg, "--yes"], 0,
        PULUMI_CONFIG_PASSPHRASE=MID, PULUMI_DIY_NEW_PASSPHRASE=NEW, PULUMI_DIY_OLD_PASSPHRASE_FILE=str(old_file))
    cli(mixed, ["secrets", "verify", "infra/dev", "--config-dir", cfg], 0, PULUMI_CONFIG_PASSPHRASE=NEW)


def test_history_restore_and_diff_across_the_two_passphrases(mixed: dict[str, Any]) -> None:
    env = {"PULUMI_CONFIG_PASSPHRASE": MID}
    refused = cli(mixed, ["history", "restore", "infra/dev", "1", "--yes"], 7, **env)
    assert "PULUMI_DIY_OLD_PASSPHRASE" in refused.stderr
    cli(mixed, ["history", "diff", "infra/dev", "1", "current"], 0, **env, PULUMI_DIY_OLD_PASSPHRASE=OLD)
    cli(mixed, ["history", "restore", "infra/dev", "1", "--yes"], 0, **env, PULUMI_DIY_OLD_PASSPHRASE=OLD)
    # the restored version is re-encrypted under the stack's key: MID alone opens the current checkpoint
    out = Path(mixed["cfg"]).parent / "export.json"
    cli(mixed, ["stack", "export", "infra/dev", "--show-secrets", "--file", str(out)], 0, PULUMI_CONFIG_PASSPHRASE=MID)
    assert "pw-infra-dev" in out.read_text()
    cli(mixed, ["secrets", "verify", "infra/dev"], 7, PULUMI_CONFIG_PASSPHRASE=MID)  # history: still OLD
    cli(mixed, ["secrets", "verify", "infra/dev"], 0, PULUMI_CONFIG_PASSPHRASE=MID, PULUMI_DIY_OLD_PASSPHRASE=OLD)
