"""Write the example SQLite database the packaged /etc/sqlsentinel/alerts.yaml queries."""

import sqlite3
import sys
from pathlib import Path

path = Path(sys.argv[1])
path.unlink(missing_ok=True)
with sqlite3.connect(path) as db:
    db.executescript(
        """
        CREATE TABLE jobs (name TEXT PRIMARY KEY, state TEXT NOT NULL, finished_at TEXT);
        INSERT INTO jobs VALUES ('nightly_backup', 'done', '2026-01-01T02:00:00Z');
        INSERT INTO jobs VALUES ('hourly_import', 'done', '2026-01-01T02:05:00Z');
        """
    )
db.close()
