"""`${VAR}` substitution leaves SQL's dollars alone and has one escape, `$${`."""

from __future__ import annotations

import pytest

from sqlsentinel.config.envsubst import substitute
from sqlsentinel.config.loader import load_text
from sqlsentinel.config.yamlsource import parse_yaml
from sqlsentinel.engine.query import run_query


def expand(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    parsed = parse_yaml("v: x\n", "c.yaml")
    parsed.data = {"v": text}
    substitute(parsed, env, "c.yaml")
    return parsed.data["v"], [p.message for p in parsed.problems]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT $$OK$$ AS status",
        "DO $$ BEGIN PERFORM pg_sleep(0); END $$",
        "SELECT $tag$a$$b$tag$ AS status WHERE x = $1 AND $NAME",
    ],
)
def test_dollar_quoting_passes_unchanged(sql: str) -> None:
    assert expand(sql, {}) == (sql, [])


def test_the_one_escape_is_a_literal_dollar_brace() -> None:
    assert expand("SELECT '$${HOME}' AS status, $$x$$", {"HOME": "/root"}) == (
        "SELECT '${HOME}' AS status, $$x$$",
        [],
    )


@pytest.mark.parametrize(
    ("env", "value"),
    [({"A": "a", "B": "b"}, "a"), ({"B": "b"}, "b"), ({"A": "", "B": "b"}, "b")],
)
def test_nested_defaults_work(env: dict[str, str], value: str) -> None:
    assert expand("${A:-${B}}", env) == (value, [])
    assert expand("<${A:-x${C:-y}z}>", {}) == ("<xyz>", [])


def test_an_unset_variable_in_a_used_default_is_an_error() -> None:
    _, problems = expand("${A:-${B}}", {})
    assert problems == ["environment variable B is not set (write ${B:-default} to give a default)"]
    assert expand("${A:-${B}}", {"A": "set"}) == ("set", [])  # an unused default is not read


@pytest.mark.parametrize("text", ["${ 5", "${A B}", "${A:?required}", "${A", "${}"])
def test_malformed_references_are_errors(text: str) -> None:
    value, (problem,) = expand(text, {"A": "x"})
    assert value == text and problem.startswith("malformed variable reference")


def test_dollar_quoted_queries_run_on_postgresql(pg_url: str) -> None:
    text = (
        f"database:\n  url: {pg_url}\n  read_only: false\nalerts:\n"
        "  - name: quoted\n    query: SELECT $$OK$$ AS status, $x$it's$x$ AS note\n"
        "    schedule: '* * * * *'\n"
        "  - name: block\n    schedule: '* * * * *'\n    query: |\n"
        "      DO $$ BEGIN PERFORM 1; END $$;\n"
    )
    quoted, block = load_text(text, "c.yaml", {}).alerts
    assert block.query == "DO $$ BEGIN PERFORM 1; END $$;\n"
    result = run_query(quoted.database, quoted.query, 10)
    assert (result.outcome, result.context) == ("ok", {"note": "it's"})
