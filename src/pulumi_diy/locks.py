"""Stack locks as Pulumi writes them (pulumi-diy-format.md sections 2.7 and 5).

The implementation lives in :mod:`pulumi_diy.locking`; this module is its stable import path.
"""

from __future__ import annotations

from .locking import *  # noqa: F403
from .locking import __all__ as __all__
