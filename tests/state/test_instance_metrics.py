"""Instance metrics: key columns as valid, distinct label names, and the per-alert bound."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlsentinel.core.decide import Rule
from sqlsentinel.core.instances import Instance, decide_instances, instance_key
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.instance_metrics import label_names
from sqlsentinel.state.instances import save_instances
from sqlsentinel.state.metrics import metrics_text

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_label_names_are_valid_and_distinct() -> None:
    assert label_names(["warehouse_id", "warehouse-id", "alert", "state", "2nd", "__x", "a b"]) == {
        "warehouse_id": "warehouse_id",
        "warehouse-id": "warehouse_id_2",
        "alert": "key_alert",
        "state": "key_state",
        "2nd": "key_2nd",
        "__x": "key_x",
        "a b": "a_b",
    }


def test_each_alert_exports_at_most_its_cap_firing_first(sqlite_url: str) -> None:
    db = StateDB(sqlite_url)
    db.ensure_schema()
    rows = [
        Instance(instance_key([i]), {"alert": i}, "alert" if i > 7 else "ok", i) for i in range(10)
    ]
    with db.write() as tx:
        decisions = decide_instances({}, rows, Rule(), lambda k: False, "resolve", T0)
        save_instances(tx, "late", decisions, T0)
    text = metrics_text(db, T0, {"late": 3})
    firing = [
        line for line in text.splitlines() if line.startswith("sqlsentinel_alert_instance_firing{")
    ]
    assert firing == [
        'sqlsentinel_alert_instance_firing{alert="late",key_alert="8"} 1',
        'sqlsentinel_alert_instance_firing{alert="late",key_alert="9"} 1',
        'sqlsentinel_alert_instance_firing{alert="late",key_alert="0"} 0',
    ]
    assert 'sqlsentinel_alert_instances{alert="late",state="OK"} 8' in text
    assert "instance" not in metrics_text(StateDB(sqlite_url.replace("test.db", "none.db")), T0)
