"""What backend-wide secrets commands do not cover is said: copies of deleted stacks."""

from __future__ import annotations

import json
from typing import Any

from pulumi_diy.synth import remove_stack
from tests.cli.test_secrets_cli import cli, setup  # noqa: F401  (fixture)
from tests.storage.test_rekey import NEW, OLD


def test_all_names_deleted_stacks_whose_copies_keep_old_keys(setup: dict[str, Any]) -> None:  # noqa: F811
    backend = setup["backend"]
    remove_stack(backend, backend.resolve("web/dev"))
    verified = json.loads(cli(setup, ["--json", "secrets", "verify", "--all"], PULUMI_CONFIG_PASSPHRASE=OLD).stdout)
    assert [w for w in verified["warnings"] if "1 deleted stack(s) (web/dev)" in w]
    rotated = cli(setup, ["secrets", "rotate", "--all", "--yes"], PULUMI_CONFIG_PASSPHRASE=OLD,
                  PULUMI_DIY_NEW_PASSPHRASE=NEW)
    assert "deleted stack(s) (web/dev) keep copies" in rotated.stdout + rotated.stderr
    one = cli(setup, ["--json", "secrets", "verify", "infra/dev"], PULUMI_CONFIG_PASSPHRASE=NEW)
    assert json.loads(one.stdout)["warnings"] == []  # a named stack: nothing to say about others
