"""`pulumi-diy env`: resolved settings and where each came from."""

from __future__ import annotations

from typing import Any

import typer

# render and context load when the command runs: this module is imported for every `--help`.


class _SettingsView:
    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def to_dict(self) -> dict[str, Any]:
        from ..backend.urls import redact_url

        out: dict[str, Any] = {}
        for s in self.settings.all():
            value = s.shown()
            if s.name == "backend_url" and value:
                value = redact_url(value)
            out[s.name] = {"value": value, "source": s.source}
        return out


def env(ctx: typer.Context) -> None:
    """Show the resolved settings (backend URL, passphrase source, cache, parallelism, compression) and
    where each came from: a flag, an environment variable, Pulumi's credentials file or a default.
    Secret values are never shown.

    Example: pulumi-diy env --json
    """
    from . import render
    from .context import app_context
    from .render import backend as views

    actx = app_context(ctx)
    settings = actx.settings
    if actx.json:
        render.emit_json(_SettingsView(settings))
        return
    import dataclasses

    from ..backend.urls import redact_url

    shown = dataclasses.replace(settings, backend_url=dataclasses.replace(
        settings.backend_url, value=redact_url(settings.backend_url.value) if settings.backend_url.value else None))
    views.settings_table(render.console(actx), shown)
