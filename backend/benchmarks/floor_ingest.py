"""The floor any ingester pays here: fetch the pages, parse the JSON, one executemany, one commit.

    python floor_ingest.py URL N DB

No classification, no skills, no dedupe: a lower bound to compare the real CLI with.
"""

import json
import sqlite3
import sys

import requests


def main(url: str, n: int, db: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS postings (id TEXT PRIMARY KEY, title TEXT, company TEXT, "
                 "location TEXT, date_posted TEXT, description TEXT, raw_json TEXT)")
    session = requests.Session()
    rows = []
    for offset in range(0, n, 500):
        page = session.post(url, json={"offset": offset, "limit": min(500, n - offset)},
                            headers={"Authorization": f"Bearer {sys.argv[4] if len(sys.argv) > 4 else ''}"}).json()
        rows.extend((str(j["id"]), j["job_title"], j["company"], j["location"], j["date_posted"], j["description"],
                     json.dumps(j)) for j in page["data"])
    with conn:
        conn.executemany("INSERT OR IGNORE INTO postings VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()
    print(len(rows))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
