"""pulumi-diy: operate Pulumi DIY backends (file, S3, GCS, Azure Blob, PostgreSQL).

The library API::

    import pulumi_diy
    backend = pulumi_diy.open_backend("s3://my-state?region=eu-west-1")
    for summary in pulumi_diy.list_stacks(backend):
        print(summary.name, summary.resource_count, summary.last_update)

Nothing in this package imports Typer or Rich; the CLI lives in ``pulumi_diy.cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import *  # noqa: F403
from .errors import ExitCode, PulumiDiyError

if TYPE_CHECKING:
    from .backend.backend import Backend, open_backend
    from .backend.layout import StackRef

_LAZY = {
    "Backend": ("pulumi_diy.backend.backend", "Backend"),
    "open_backend": ("pulumi_diy.backend.backend", "open_backend"),
    "StackRef": ("pulumi_diy.backend.layout", "StackRef"),
    "list_stacks": ("pulumi_diy.stacks", "list_stacks"),
    "show_stack": ("pulumi_diy.stacks", "show_stack"),
    "stack_resources": ("pulumi_diy.stacks", "stack_resources"),
    "export_stack": ("pulumi_diy.stacks", "export_stack"),
    "backend_info": ("pulumi_diy.info", "backend_info"),
    "list_locks": ("pulumi_diy.locks", "list_locks"),
    "break_locks": ("pulumi_diy.locks", "break_locks"),
    "wait_for_unlock": ("pulumi_diy.locks", "wait_for_unlock"),
    "list_history": ("pulumi_diy.history", "list_history"),
    "history_feed": ("pulumi_diy.history", "history_feed"),
    "export_version": ("pulumi_diy.history", "export_version"),
    "diff_versions": ("pulumi_diy.history", "diff_versions"),
    "restore_version": ("pulumi_diy.history", "restore_version"),
    "prune_history": ("pulumi_diy.history", "prune_history"),
    "list_deleted_stacks": ("pulumi_diy.history", "list_deleted_stacks"),
    "restore_deleted_stack": ("pulumi_diy.history", "restore_deleted_stack"),
    "list_secrets": ("pulumi_diy.secrets.scan", "list_secrets"),
    "verify_secrets": ("pulumi_diy.secrets.verify", "verify_secrets"),
    "rekey": ("pulumi_diy.secrets.rekey", "rekey"),
    "resume_rekey": ("pulumi_diy.secrets.resume", "resume_rekey"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import pulumi_diy` (and `pulumi-diy --help`) stays fast.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(name)


__all__ = ["Backend", "ExitCode", "PulumiDiyError", "StackRef", "__version__", "open_backend", *_LAZY]
