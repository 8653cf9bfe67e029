"""Per-invocation state shared by the commands: settings, output mode, the opened backend."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from ..config import Settings, resolve_settings
from ..errors import ConfirmationRequired, PassphraseRequired

if TYPE_CHECKING:
    from ..backend.backend import Backend


@dataclass
class AppContext:
    """What the root callback resolved from global options; commands get it via :func:`app_context`."""

    backend_flag: str | None = None
    json: bool = False
    quiet: bool = False
    debug: bool = False
    use_cache: bool = True
    parallel: int | None = None
    cache_dir: str | None = None
    no_color: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _backend: Backend | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = resolve_settings(backend=self.backend_flag, parallelism=self.parallel,
                                              cache_dir=self.cache_dir)
        return self._settings

    @property
    def color(self) -> bool:
        return not (self.no_color or self.settings.no_color)

    def backend(self) -> Backend:
        if self._backend is None:
            from ..backend.backend import open_backend

            self._backend = open_backend(settings=self.settings, use_cache=self.use_cache)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()

    # --- interaction ---------------------------------------------------------------------
    @staticmethod
    def interactive() -> bool:
        return sys.stdin.isatty() and sys.stderr.isatty()

    def confirm(self, question: str, *, yes: bool) -> bool:
        """Ask before a destructive step; without a TTY demand --yes instead of hanging."""
        if yes:
            return True
        if not self.interactive():
            raise ConfirmationRequired(f"{question} (no terminal to confirm on: pass --yes)")
        return bool(typer.confirm(question, default=False, err=True))

    def passphrase(self) -> str:
        """The current passphrase: PULUMI_CONFIG_PASSPHRASE, then _FILE, then a prompt on a TTY."""
        from ..secrets.passphrase import read_passphrase

        s = self.settings
        value = read_passphrase(s.passphrase.value, s.passphrase_file.value, s.cwd)
        if value is not None:
            return value
        if self.interactive():
            import getpass

            return getpass.getpass("Enter your passphrase to unlock config/secrets: ")
        raise PassphraseRequired("passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
                                 "PULUMI_CONFIG_PASSPHRASE_FILE environment variables")

    def old_passphrase(self) -> str | None:
        """Another passphrase to try where the current one does not open a file's key (files still under
        an older passphrase): PULUMI_DIY_OLD_PASSPHRASE[_FILE]; never prompted for."""
        from ..secrets.passphrase import read_passphrase

        s = self.settings
        return read_passphrase(s.old_passphrase.value, s.old_passphrase_file.value, s.cwd)

    def new_passphrase(self) -> str:
        """The new passphrase for rotation: PULUMI_DIY_NEW_PASSPHRASE[_FILE], else asked twice on a TTY."""
        from ..secrets.passphrase import read_passphrase

        s = self.settings
        value = read_passphrase(s.new_passphrase.value, s.new_passphrase_file.value, s.cwd)
        if value is not None:
            return value
        if not self.interactive():
            raise PassphraseRequired("the new passphrase must be set with PULUMI_DIY_NEW_PASSPHRASE or "
                                     "PULUMI_DIY_NEW_PASSPHRASE_FILE")
        import getpass

        first = getpass.getpass("Enter the new passphrase: ")
        if getpass.getpass("Re-enter the new passphrase: ") != first:
            raise PassphraseRequired("the passphrases do not match")
        return first


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, AppContext):
        obj = AppContext()
        root.obj = obj
    return obj
