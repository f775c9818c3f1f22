"""Create examples/shop.db: a tiny shop database the example alerts query."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

path = Path(__file__).with_name("shop.db")
now = datetime.now(UTC)
# warehouse: (name, hours a shipment may be apart, hours since its last shipment)
WAREHOUSES = {
    1: ("Lyon", 6, 1.5),
    2: ("Porto", 6, 9.5),  # late: nothing shipped for 9.5 hours
    3: ("Gdansk", 12, 4.0),
    4: ("Leeds", 6, 0.5),
    5: ("Graz", 24, 30.0),  # late
}
with sqlite3.connect(path) as db:
    db.executescript(
        """
        DROP TABLE IF EXISTS orders;
        DROP TABLE IF EXISTS payments;
        DROP TABLE IF EXISTS warehouses;
        DROP TABLE IF EXISTS shipments;
        CREATE TABLE orders (id INTEGER PRIMARY KEY, created_at TEXT, total NUMERIC, region TEXT);
        CREATE TABLE payments (id INTEGER PRIMARY KEY, order_id INTEGER, status TEXT);
        CREATE TABLE warehouses (id INTEGER PRIMARY KEY, name TEXT, max_gap_hours NUMERIC);
        CREATE TABLE shipments (id INTEGER PRIMARY KEY, warehouse_id INTEGER, shipped_at TEXT);
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
    for wid, (name, gap, since_last) in WAREHOUSES.items():
        db.execute("INSERT INTO warehouses VALUES (?, ?, ?)", (wid, name, gap))
        for n in range(3):  # the last shipment, and two before it
            shipped = now - timedelta(hours=since_last + 2 * n)
            db.execute(
                "INSERT INTO shipments (warehouse_id, shipped_at) VALUES (?, ?)",
                (wid, shipped.isoformat()),
            )
print(f"created {path}")
