"""Same as `skillpulse ingest`: python backend/scripts/ingest.py --source remotive --role backend"""

import sys

from skillpulse_ingest.cli import script_main

if __name__ == "__main__":
    sys.exit(script_main("ingest", sys.argv[1:]))
