"""`python -m skillpulse_ingest` behaves like the `skillpulse` command."""

import sys

from .cli import main

sys.exit(main())
