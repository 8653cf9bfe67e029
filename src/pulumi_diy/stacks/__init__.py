"""Stack operations: list (fast, cached), show, resources, export. Read-only."""

from __future__ import annotations

from .inspect import (
    ResourceNode,
    ResourceTree,
    StackDetails,
    export_stack,
    show_stack,
    stack_resources,
)
from .listing import (
    SORT_KEYS,
    SUMMARY_KIND,
    StackSummary,
    list_stacks,
    lock_counts,
    sort_summaries,
    summarize_bytes,
    summarize_checkpoint,
)

__all__ = [
    "SORT_KEYS",
    "SUMMARY_KIND",
    "ResourceNode",
    "ResourceTree",
    "StackDetails",
    "StackSummary",
    "export_stack",
    "list_stacks",
    "lock_counts",
    "show_stack",
    "sort_summaries",
    "stack_resources",
    "summarize_bytes",
    "summarize_checkpoint",
]
