"""Create examples/shop.db: a tiny shop database the example alerts query."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

path = Path(__file__).with_name("shop.db")
now = datetime.now(UTC)
with sqlite3.connect(path) as db:
    db.executescript(
        """
        DROP TABLE IF EXISTS orders;
        DROP TABLE IF EXISTS payments;
        CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TEXT, total NUMERIC, region TEXT);
        CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER, status TEXT);
        """
    )
    for i in range(1, 41):
        created = (now - timedelta(minutes=9 * i)).isoformat()
        db.execute(
            "INSERT INTO orders VALUES (?, ?, ?, ?)", (i, created, 20 + i % 7, ["eu", "us"][i % 2])
        )
        db.execute(
            "INSERT INTO payments VALUES (?, ?, ?)", (i, i, "failed" if i % 6 == 0 else "captured")
        )
print(f"created {path}")
