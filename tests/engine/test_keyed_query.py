"""The keyed result contract, with SQLite and a real PostgreSQL as the alert database."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from sqlsentinel.core.instances import instance_key
from sqlsentinel.core.outcomes import ERROR_OUTCOMES
from sqlsentinel.core.spec import AlertSpec, DatabaseSpec
from sqlsentinel.engine.keyed_query import run_keyed_query
from sqlsentinel.engine.query import run_query

ROWS = "SELECT 7 AS warehouse_id, 'eu' AS region, 'ALERT' AS status, 12 AS actual_value, " \
       "10 AS threshold, 'x' AS note UNION ALL SELECT 9, 'eu', 'ok', 1, 10, 'y'"  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest) -> str:
    """An alert database with a table `w(id, region)` of three warehouses."""
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE w (id integer, region text)"))
        conn.execute(text("INSERT INTO w VALUES (1, 'eu'), (2, 'us'), (3, NULL)"))
    engine.dispose()
    return url


def keyed(url: str, sql: str, key: tuple[str, ...] = ("warehouse_id",), **kw: Any) -> Any:
    alert = AlertSpec("late", sql, "* * * * *", DatabaseSpec(url), key=key, **kw)
    return run_keyed_query(alert, 10)


def test_each_row_is_an_instance(target: str) -> None:
    result = keyed(target, ROWS)
    assert (result.outcome, result.error) == ("alert", None)
    first, second = result.instances
    assert (first.key, first.key_values, first.condition) == ('["7"]', {"warehouse_id": 7}, "alert")
    assert first.context == {"region": "eu", "note": "x"}
    assert (first.actual_value, first.threshold) == (12, 10)
    assert (second.key, second.condition) == (instance_key([9]), "ok")


def test_key_columns_match_in_any_case_and_several_make_one_key(target: str) -> None:
    result = keyed(target, ROWS.replace("warehouse_id", '"Warehouse_ID"', 1),
                   key=("warehouse_id", "REGION"))  # fmt: skip
    assert result.outcome == "alert", result.error
    assert result.instances[0].key_values == {"warehouse_id": 7, "REGION": "eu"}
    assert result.instances[0].key == '["7","eu"]' and result.instances[0].context == {"note": "x"}


def test_no_rows_is_no_instances(target: str) -> None:
    result = keyed(target, "SELECT id AS warehouse_id, 'OK' AS status FROM w WHERE id > 100")
    assert (result.outcome, result.instances, result.error) == ("ok", (), None)


@pytest.mark.parametrize(
    ("sql", "outcome", "message"),
    [
        ("SELECT id, 'OK' AS status FROM w", "missing_key",
         "alert 'late': the result has no key column 'warehouse_id' (key: warehouse_id; "
         "columns: id, status)"),
        ("SELECT id AS warehouse_id FROM w", "missing_status",
         "alert 'late': the result has no status column (columns: warehouse_id)"),
        ("SELECT CASE WHEN id = 3 THEN NULL ELSE id END AS warehouse_id, 'OK' AS status FROM w "
         "ORDER BY id", "null_key",
         "alert 'late': row 3 has NULL in key column 'warehouse_id'; every key needs a value"),
        ("SELECT 1 AS warehouse_id, 'OK' AS status FROM w", "duplicate_key",
         "alert 'late': rows 1 and 2 have the same key warehouse_id=1; each instance must be "
         "one row"),
        ("SELECT id AS warehouse_id, CASE WHEN id = 2 THEN 'MAYBE' ELSE 'OK' END AS status "
         "FROM w ORDER BY id", "invalid_status",
         "alert 'late': row 2 (warehouse_id=2): status must be ALERT or OK, got 'MAYBE'"),
        ("SELECT id AS warehouse_id, 'OK' AS status FROM w", "too_many_instances",
         "alert 'late': the query returned more than 2 rows (max_instances: 2); return one row "
         "per instance, or raise max_instances"),
    ],
)  # fmt: skip
def test_a_bad_result_is_one_named_outcome(
    target: str, sql: str, outcome: str, message: str
) -> None:
    result = keyed(target, sql, max_instances=2 if outcome == "too_many_instances" else 3)
    assert (result.outcome, result.error, result.instances) == (outcome, message, None)
    assert outcome in ERROR_OUTCOMES


def test_duplicate_keys_are_compared_as_text(sqlite_url: str) -> None:
    """SQLite keeps 7 and '7' apart; as keys they are one warehouse."""
    result = keyed(sqlite_url, "SELECT 7 AS warehouse_id, 'OK' AS status UNION ALL "
                               "SELECT '7', 'OK'")  # fmt: skip
    assert result.outcome == "duplicate_key"
    assert "rows 1 and 2 have the same key warehouse_id=7" in result.error


def test_at_most_one_row_past_max_instances_is_read(target: str) -> None:
    """An endless result is refused at once: only max_instances + 1 rows are fetched."""
    endless = {
        "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT i AS warehouse_id, 'OK' AS status FROM n",
        "postgresql": "SELECT generate_series(1, 2000000000) AS warehouse_id, 'OK' AS status",
    }["sqlite" if target.startswith("sqlite") else "postgresql"]
    started = time.monotonic()
    result = keyed(target, endless, max_instances=1000)
    assert result.outcome == "too_many_instances", result.error
    assert time.monotonic() - started < 15  # at once: reading them all takes far longer


def test_postgresql_one_row_alert_stops_reading_at_the_second_row(pg_url: str) -> None:
    started = time.monotonic()
    sql = "SELECT 'OK' AS status, generate_series(1, 2000000000) AS n"
    result = run_query(DatabaseSpec(pg_url), sql, 30)
    assert result.outcome == "multiple_rows"  # reading them all would end in a timeout
    assert time.monotonic() - started < 15
