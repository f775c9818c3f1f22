"""Every query outcome, with SQLite and a real PostgreSQL as the alert database."""

from __future__ import annotations

import sqlite3
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sqlsentinel.core.outcomes import ERROR_OUTCOMES
from sqlsentinel.core.spec import DatabaseSpec
from sqlsentinel.engine.query import run_query


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest) -> str:
    """An alert database with a table `t(x integer)` holding one row."""
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x integer)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    return url


def q(url: str, sql: str, timeout: float = 10, read_only: bool = True):
    return run_query(DatabaseSpec(url, read_only), sql, timeout)


def rows_in_t(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM t")).scalar()
    engine.dispose()
    return int(n or 0)


@pytest.mark.parametrize(
    ("sql", "outcome"),
    [
        ("SELECT 'OK' AS status", "ok"),
        ("SELECT 'ALERT' AS status", "alert"),
        ("SELECT 'alert' AS status", "alert"),
        ("SELECT ' Ok ' AS status", "ok"),
        ("SELECT 'Alert' AS \"STATUS\"", "alert"),
        ("SELECT 'ok' AS \"Status\"", "ok"),
        ("SELECT CASE WHEN count(*) > 0 THEN 'ALERT' ELSE 'OK' END AS status FROM t", "alert"),
    ],
)
def test_status_value_and_column_are_case_insensitive(target: str, sql: str, outcome: str) -> None:
    result = q(target, sql)
    assert (result.outcome, result.error) == (outcome, None)


def test_value_threshold_and_context_columns(target: str) -> None:
    result = q(
        target,
        "SELECT 'ALERT' AS status, 12 AS \"Actual_Value\", 10 AS threshold, "
        "'eu' AS region, 3 AS late_orders",
    )
    assert result.outcome == "alert"
    assert (result.actual_value, result.threshold) == (12, 10)
    assert result.context == {"region": "eu", "late_orders": 3}


def test_decimal_and_date_values_postgresql(pg_url: str) -> None:
    result = q(
        pg_url,
        "SELECT 'OK' AS status, 12.50::numeric AS actual_value, 10::numeric(6,2) AS threshold, "
        "DATE '2026-01-02' AS day, NULL AS nothing",
    )
    assert result.outcome == "ok"
    assert result.actual_value == Decimal("12.50") and isinstance(result.actual_value, Decimal)
    assert result.threshold == Decimal("10.00")
    assert result.context == {"day": date(2026, 1, 2), "nothing": None}


def test_decimal_and_date_values_sqlite(sqlite_url: str) -> None:
    result = q(sqlite_url, "SELECT 'OK' AS status, 12.5 AS actual_value, date('2026-01-02') AS day")
    assert (result.outcome, result.actual_value, result.context) == (
        "ok",
        12.5,
        {"day": "2026-01-02"},
    )


@pytest.mark.parametrize(
    ("sql", "outcome", "message"),
    [
        ("SELECT 'OK' AS status FROM t WHERE x < 0", "no_data", "no rows"),
        ("SELECT 'OK' AS status UNION ALL SELECT 'ALERT'", "multiple_rows", "more than one row"),
        ("SELECT 1 AS value, 'x' AS other", "missing_status", "no status column"),
        ("SELECT 'WARN' AS status", "invalid_status", "got 'WARN'"),
        ("SELECT NULL AS status", "invalid_status", "got None"),
        ("SELECT 1 AS status", "invalid_status", "got 1"),
        ("SELECT * FROM no_such_table", "query_error", "no_such_table"),
        ("SELEC 1", "query_error", "SELEC"),  # names what it refused, in the server's words
    ],
)
def test_contract_failures_are_named_outcomes(
    target: str, sql: str, outcome: str, message: str
) -> None:
    result = q(target, sql)
    assert result.outcome == outcome
    assert result.error and message in result.error
    assert outcome == "no_data" or outcome in ERROR_OUTCOMES


def test_missing_status_keeps_the_row_as_context(target: str) -> None:
    result = q(target, "SELECT 5 AS value")
    assert (result.outcome, result.context) == ("missing_status", {"value": 5})


def test_connection_error_postgresql_unreachable() -> None:
    from support import free_port

    t0 = time.monotonic()
    result = q(f"postgresql://nobody:pw@127.0.0.1:{free_port()}/db", "SELECT 'OK' AS status", 5)
    assert result.outcome == "connection_error"
    assert result.error and "OperationalError" in result.error
    assert "pw@" not in result.error
    assert time.monotonic() - t0 < 5


def test_connection_error_postgresql_unknown_database(pg_server: str) -> None:
    result = q(f"{pg_server}/no_such_db", "SELECT 'OK' AS status")
    assert result.outcome == "connection_error"
    assert result.error and "no_such_db" in result.error


def test_connection_error_sqlite_unopenable(tmp_path) -> None:
    result = q(f"sqlite:///{tmp_path}/missing/dir/alerts.db", "SELECT 'OK' AS status")
    assert result.outcome == "connection_error"
    assert result.error == f"no SQLite database at {tmp_path}/missing/dir/alerts.db"


def test_timeout_sqlite_recursive_cte(sqlite_url: str) -> None:
    sql = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT 'OK' AS status FROM c WHERE x < 0"
    )
    t0 = time.monotonic()
    result = q(sqlite_url, sql, timeout=1)
    elapsed = time.monotonic() - t0
    assert result.outcome == "timeout", result
    assert 0.9 <= elapsed < 10  # the CTE never ends by itself
    assert not result.hung


def test_timeout_postgresql_pg_sleep(pg_url: str) -> None:
    t0 = time.monotonic()
    result = q(pg_url, "SELECT pg_sleep(60), 'OK' AS status", timeout=1)
    elapsed = time.monotonic() - t0
    assert result.outcome == "timeout", result
    assert result.error and "timeout" in result.error
    assert 0.9 <= elapsed < 15  # its 1 s timeout (and the cancel's grace), not the 60 s sleep
    assert not result.hung


WRITES = {
    "sqlite": "INSERT INTO t VALUES (2) RETURNING 'OK' AS status",
    "postgresql": "WITH w AS (INSERT INTO t VALUES (2) RETURNING 1) SELECT 'OK' AS status FROM w",
}


def test_read_only_blocks_writes(target: str) -> None:
    backend = "sqlite" if target.startswith("sqlite") else "postgresql"
    result = q(target, WRITES[backend])
    assert result.outcome == "query_error"
    assert result.error  # the database's own reason, in its own words
    assert rows_in_t(target) == 1


def test_read_only_false_allows_writes(target: str) -> None:
    backend = "sqlite" if target.startswith("sqlite") else "postgresql"
    result = q(target, WRITES[backend], read_only=False)
    assert (result.outcome, result.error) == ("ok", None)


# ------------------------------------------------------------------ one statement, read-only

SMUGGLED = [
    "SELECT 'OK' AS status; COMMIT; DELETE FROM t",
    "SELECT 'OK' AS status; ROLLBACK; DELETE FROM t",
    "SELECT 'OK' AS status; END; DELETE FROM t",
    "SELECT 'OK' AS status; DELETE FROM t",
]


@pytest.mark.parametrize("sql", SMUGGLED)
def test_a_query_is_one_statement_and_read_only_holds(target: str, sql: str) -> None:
    """A second statement is refused by the driver/server, so it cannot end the read-only
    transaction and write (PostgreSQL: the extended protocol; SQLite: sqlite3)."""
    result = q(target, sql)
    assert result.outcome == "query_error", result
    assert rows_in_t(target) == 1


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA journal_mode = DELETE",
        "ATTACH DATABASE 'attached.db' AS other",
    ],
)
def test_sqlite_read_only_refuses_pragmas_and_attach(sqlite_url: str, sql: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    before = q(sqlite_url, "SELECT 'OK' AS status")
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    result = q(sqlite_url, sql)
    assert before.outcome == "ok"
    assert result.outcome == "query_error", result
    assert result.error and "read_only" in result.error
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == mode
    assert not (path.parent / "attached.db").exists()


def test_dry_run_never_commits(target: str) -> None:
    backend = "sqlite" if target.startswith("sqlite") else "postgresql"
    result = run_query(DatabaseSpec(target, False), WRITES[backend], 10, dry_run=True)
    assert result.outcome == "ok"
    assert rows_in_t(target) == 1


def test_a_failed_check_never_commits(target: str) -> None:
    """`read_only: false`, but the outcome is an error (two rows): the writes are undone."""
    sql = {
        "sqlite": "DELETE FROM t RETURNING 'OK' AS status",
        "postgresql": "WITH d AS (DELETE FROM t RETURNING 1) SELECT 'OK' AS status FROM d "
        "UNION ALL SELECT 'OK'",
    }["sqlite" if target.startswith("sqlite") else "postgresql"]
    if target.startswith("sqlite"):  # a second row, so the DELETE returns two
        with sqlite3.connect(target.removeprefix("sqlite:///")) as db:
            db.execute("INSERT INTO t VALUES (3)")
    before = rows_in_t(target)
    result = q(target, sql, read_only=False)
    assert result.outcome == "multiple_rows"
    assert rows_in_t(target) == before


def test_postgresql_query_that_swallows_the_cancel_is_ended(pg_url: str) -> None:
    """A DO loop that catches query_canceled keeps running after a cancel: at the deadline
    the run terminates its backend, so nothing is left running on the server."""
    sql = (
        "DO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(0.2); "
        "EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$"
    )
    t0 = time.monotonic()
    result = q(pg_url, sql, timeout=1)
    assert result.outcome == "timeout", result
    assert time.monotonic() - t0 < 20  # timeout 1 s + two graces of 2 s; the loop never ends
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(pg_url, "pg_sleep(0.2)"):
        time.sleep(0.2)
    assert not _running(pg_url, "pg_sleep(0.2)")


def _running(url: str, fragment: str) -> bool:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{fragment}%",),
        ).fetchone()
    return bool(rows and rows[0])
