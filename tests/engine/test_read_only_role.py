"""What docs/configuration.md says of `read_only` on PostgreSQL, checked on a real server:
a read-only transaction does not stop dblink or COPY … TO PROGRAM, and the role the docs
recommend (their SQL, run as written) cannot use either."""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path

import psycopg

from sqlsentinel.core.spec import DatabaseSpec
from sqlsentinel.engine.query import run_query

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _documented_sql() -> str:
    """The SQL block that follows "So use a role" in docs/configuration.md."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"So use a role.*?```sql\n(.*?)```", text, re.S)
    assert found, "docs/configuration.md lost its recommended role"
    return found.group(1)


def test_read_only_is_no_boundary_and_the_documented_role_is(pg_server: str) -> None:
    name, role = f"t_{uuid.uuid4().hex[:12]}", f"reader_{uuid.uuid4().hex[:8]}"
    admin = pg_server.replace("+psycopg", "")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{admin}/{name}", autocommit=True) as c:
        c.execute("CREATE EXTENSION dblink")
    host, port = admin.rsplit("@", 1)[1].split(":")
    loop = f"host={host} port={port} dbname={name} user=postgres"
    exec_sql = "SELECT 'OK' AS status, {f}('{loop}', 'CREATE TABLE {t} ()') AS done"
    outside = Path(tempfile.mkdtemp(prefix="sqlsentinel-copy-"))
    outside.chmod(0o777)  # the server's OS user writes here

    superuser = DatabaseSpec(f"{pg_server}/{name}", read_only=True)
    bypass = run_query(superuser, exec_sql.format(f="dblink_exec", loop=loop, t="made_1"), 20)
    assert bypass.outcome == "ok", bypass.error  # read_only did not stop it
    program = f"COPY (SELECT 1) TO PROGRAM 'touch {outside}/ran'"
    run_query(superuser, program, 20)  # no status column, but the command ran
    assert (outside / "ran").exists()

    documented = _documented_sql().replace("sqlsentinel_reader", role)
    documented = documented.replace("DATABASE shop", f'DATABASE "{name}"')
    with psycopg.connect(f"{admin}/{name}", autocommit=True) as c:
        c.execute(documented.replace("'change me'", "'pw'"))
    reader = DatabaseSpec(f"postgresql://{role}:pw@{host}:{port}/{name}", read_only=True)
    for function in ("dblink_exec", "private_ext.dblink_exec"):
        refused = run_query(reader, exec_sql.format(f=function, loop=loop, t="made_2"), 20)
        assert refused.outcome == "query_error", refused
    refused = run_query(reader, program.replace("ran", "ran_2"), 20)
    assert refused.outcome == "query_error" and not (outside / "ran_2").exists()
    with psycopg.connect(f"{admin}/{name}") as c:
        tables = {r[0] for r in c.execute("SELECT tablename FROM pg_tables")}
        assert "made_1" in tables and "made_2" not in tables
        assert c.execute(f"SELECT rolsuper FROM pg_roles WHERE rolname = '{role}'").fetchone() == (
            False,
        )
