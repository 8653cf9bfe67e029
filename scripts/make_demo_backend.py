#!/usr/bin/env python3
"""Regenerate examples/demo-backend/ (and the stacks' Pulumi.<stack>.yaml files) from pulumi_diy.synth.

Run: .venv/bin/python scripts/make_demo_backend.py
The demo's passphrase is `demo-passphrase` (documented in the README).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pulumi_diy.backend.backend import open_backend
from pulumi_diy.config import resolve_settings
from pulumi_diy.synth import SynthSpec, generate, remove_stack

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo-backend"
CONFIGS = ROOT / "examples" / "demo-config"

SPEC = SynthSpec(
    projects=["infra", "web", "data"],
    stacks=["dev", "staging", "prod"],
    resources=14,
    history=5,
    backups=3,
    passphrase="demo-passphrase",
    compression={"web/staging": "gzip", "data/prod": "zstd"},
    indented={"data/dev"},
    stale_locks={"web/prod"},
    tags={"infra/prod": {"team": "platform", "tier": "critical"}, "web/prod": {"team": "web"}},
    pending={"data/staging"},
)


OLD = SynthSpec(projects=["infra"], stacks=["old"], resources=6, history=2, backups=2, passphrase="demo-passphrase")


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.rmtree(CONFIGS, ignore_errors=True)
    DEMO.mkdir(parents=True)
    settings = resolve_settings(backend=f"file://{DEMO}", environ={"HOME": str(Path.home())})
    backend = open_backend(settings=settings, use_cache=False)
    report = generate(backend, SPEC)
    # A stack removed with `pulumi stack rm`: only its `.bak` and backups survive (`stack ls --deleted`).
    generate(backend, OLD)
    remove_stack(backend, backend.resolve("infra/old"))
    for label, text in report.configs.items():
        project, stack = label.split("/")
        path = CONFIGS / project / f"Pulumi.{stack}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {report.files} files ({report.bytes} bytes) for {len(report.stacks)} stacks into {DEMO}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
