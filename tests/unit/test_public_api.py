from __future__ import annotations

import subprocess
import sys

import pulumi_diy


def test_every_lazy_name_resolves() -> None:
    for name in pulumi_diy._LAZY:
        assert callable(getattr(pulumi_diy, name)), name
    assert set(pulumi_diy._LAZY) <= set(pulumi_diy.__all__)


def test_library_never_imports_typer_or_rich() -> None:
    code = ("import sys, pulumi_diy\n"
            "for n in pulumi_diy._LAZY: getattr(pulumi_diy, n)\n"
            "import pulumi_diy.synth, pulumi_diy.writer\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click'))\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
