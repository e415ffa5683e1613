"""Same as `skillpulse inspect`: python backend/scripts/inspect_db.py --db backend/data/skillpulse.db --limit 10"""

import sys

from skillpulse_ingest.cli import script_main

if __name__ == "__main__":
    sys.exit(script_main("inspect", sys.argv[1:]))
