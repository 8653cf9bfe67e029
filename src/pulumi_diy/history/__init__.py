"""The checkpoint history browser: list, show, export, diff, restore and prune a stack's history,
and find and restore deleted stacks.

Versions are numbered 1..N by the nanosecond timestamps in the history file names (oldest = 1);
the timestamp itself is the entry's permanent ``id``::

    from pulumi_diy import open_backend
    from pulumi_diy.history import list_history, export_version

    backend = open_backend("s3://state?region=eu-west-1")
    ref = backend.resolve("infra/prod")
    for entry in list_history(backend, ref, limit=5).entries:
        print(entry.version, entry.kind, entry.result, entry.message)
    document = export_version(backend, ref, -1)   # the version before the latest
"""

from __future__ import annotations

from .compare import HistoryDiff, diff_versions
from .deleted import (
    BackupCopy,
    DeletedStack,
    StackRestoreResult,
    list_deleted_stacks,
    restore_deleted_stack,
    stack_copies,
)
from .diff import DeploymentDiff, FieldChange, PropertyChange, ResourceChange, diff_deployments, secret_reader
from .entries import HistoryDetails, HistoryEntry, HistoryPage, list_history, show_entry
from .feed import HistoryFeed, history_feed
from .prune import PruneItem, PruneResult, StackPrune, prune_history
from .restore import RestoreResult, restore_version
from .versions import (
    HistoryListing,
    HistoryVersion,
    export_version,
    list_versions,
    read_version_checkpoint,
    resolve_version,
)

__all__ = [
    "BackupCopy",
    "DeletedStack",
    "DeploymentDiff",
    "FieldChange",
    "HistoryDetails",
    "HistoryDiff",
    "HistoryEntry",
    "HistoryFeed",
    "HistoryListing",
    "HistoryPage",
    "HistoryVersion",
    "PropertyChange",
    "PruneItem",
    "PruneResult",
    "ResourceChange",
    "RestoreResult",
    "StackPrune",
    "StackRestoreResult",
    "diff_deployments",
    "diff_versions",
    "export_version",
    "history_feed",
    "list_deleted_stacks",
    "list_history",
    "list_versions",
    "prune_history",
    "read_version_checkpoint",
    "resolve_version",
    "restore_deleted_stack",
    "restore_version",
    "secret_reader",
    "show_entry",
    "stack_copies",
]
