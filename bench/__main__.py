"""`python -m bench`."""

from __future__ import annotations

import os
import sys

# The library is not necessarily installed: run it from the source tree, as the tests do.
_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from bench.run import main  # noqa: E402

sys.exit(main())
