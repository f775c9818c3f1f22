"""YAML to plain data with lines: merge keys as YAML defines them, bounded work."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from support import Cli

from sqlsentinel.config.loader import load_text
from sqlsentinel.config.yaml_build import MAX_DEPTH, MAX_VALUES
from sqlsentinel.config.yamlsource import parse_yaml
from sqlsentinel.errors import ConfigError

MERGED = """\
    database:
      url: sqlite:////tmp/x.db
    defaults:
      schedule: '*/5 * * * *'
    alerts:
      - &base
        name: base
        query: SELECT 'OK' AS status
        timeout: 20s
        tags: [base]
      - <<: *base
        name: a1
      - <<: [{tags: [first], timeout: 5s}, *base]
        name: a2
        timeout: 7s
"""


def test_merge_keys_follow_yaml_the_written_key_wins() -> None:
    cfg = load_text(dedent(MERGED), "c.yaml", {})
    base, a1, a2 = cfg.alerts
    assert (a1.name, a1.query, a1.timeout, a1.tags) == ("a1", base.query, 20.0, ("base",))
    # earlier mappings of a merge list win over later ones; the written key over all
    assert (a2.name, a2.timeout, a2.tags) == ("a2", 7.0, ("first",))
    assert [a.line for a in cfg.alerts] == [6, 11, 13]


def test_merged_values_keep_the_line_they_are_written_on() -> None:
    text = dedent(MERGED).replace("timeout: 20s", "timeout: soon")
    try:
        load_text(text, "c.yaml", {})
    except ConfigError as exc:
        lines = [(p.line, p.path) for p in exc.problems]
    assert lines == [
        (9, "alerts[0].timeout (alert 'base')"),
        (9, "alerts[1].timeout (alert 'a1')"),
    ]


def test_aliases_are_values_like_any_other() -> None:
    parsed = parse_yaml("a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n", "c.yaml")
    assert parsed.problems == []
    assert parsed.data == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}, "c": [{"k": [1, 2]}] * 2}
    assert parsed.lines[("b",)] == 2 and parsed.lines[("b", "k", 1)] == 1


def test_alias_expansion_is_counted_not_performed() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    parsed = parse_yaml("\n".join(levels), "bomb.yaml")  # 10**9 values if expanded
    assert parsed.data is None
    (problem,) = parsed.problems
    assert problem.line == 6 and f"more than {MAX_VALUES:,} values" in problem.message


def test_recursive_and_undefined_aliases_are_syntax_errors() -> None:
    (recursive,) = parse_yaml("a: &a [1, *a]\n", "c.yaml").problems
    assert recursive.message == "YAML syntax error: alias *a is used inside its own anchor"
    (undefined,) = parse_yaml("a: 1\nb: *nowhere\n", "c.yaml").problems
    assert (undefined.line, undefined.message) == (
        2,
        "YAML syntax error: alias *nowhere has no anchor",
    )


def test_keys_that_are_not_text() -> None:
    parsed = parse_yaml("? [1, 2]\n: x\n1: y\nok: z\n", "c.yaml")
    assert parsed.data == {"ok": "z"}
    assert [(p.line, p.message) for p in parsed.problems] == [
        (1, "keys must be text, not a list"),
        (3, "keys must be text, not 1"),
    ]


def test_deep_nesting_is_refused_not_a_crash() -> None:
    """Past our own limit the message is ours; far past it the C parser may refuse first
    (libyaml >= 0.2.5 stops at 1000 levels, in its own words): either way one problem, at the
    line where the nesting is."""
    deep = "[" * MAX_DEPTH * 2 + "]" * MAX_DEPTH * 2
    (problem,) = parse_yaml(f"a: 1\nb: {deep}\n", "c.yaml").problems
    assert (problem.line, problem.message) == (
        2,
        f"the document is nested more than {MAX_DEPTH} levels deep",
    )
    for text in ("[" * 200_000 + "]" * 200_000, "a: 1\nb: " + "{x: " * 200_000 + "}" * 200_000):
        parsed = parse_yaml(text, "c.yaml")
        (problem,) = parsed.problems
        assert (parsed.data, problem.source, problem.line) == (None, "c.yaml", text.count("\n") + 1)


def test_validate_refuses_a_deeply_nested_file_with_exit_3(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("alerts:\n  - " + "[" * 200_000 + "]" * 200_000 + "\n")
    done = cli("validate", "deep.yaml")
    assert done.rc == 3, done
    assert done.stderr.startswith("error: deep.yaml:2: "), done.stderr
    assert "Traceback" not in done.stderr
