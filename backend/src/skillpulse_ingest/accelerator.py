"""The optional C accelerator (_scan.c) for the text hot paths, or None.

It is compiled at install time when a C compiler is there. Without it, or with
SKILLPULSE_PURE_PYTHON set, the pure-Python code runs; that code is also the reference the
accelerator is tested against.
"""

import os

try:
    from . import _scan
except ImportError:
    _scan = None

scan = None if os.environ.get("SKILLPULSE_PURE_PYTHON") else _scan
