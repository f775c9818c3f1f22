"""Regenerate the command reference in docs/cli.md from `--help` (checked by tests/test_docs.py).

Usage: python docs/generate_cli_md.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's package
from sqlsentinel.cli import COMMANDS, cli

DOC = Path(__file__).with_name("cli.md")
BEGIN, END = "<!-- BEGIN GENERATED: do not edit -->", "<!-- END GENERATED -->"


def reference() -> str:
    """Every command's --help, in order."""
    runner = CliRunner()
    parts = []
    for name in ["", *sorted(COMMANDS)]:
        args = [name, "--help"] if name else ["--help"]
        result = runner.invoke(cli, args, prog_name="sqlsentinel", terminal_width=100)
        title = f"sqlsentinel {name}" if name else "sqlsentinel"
        parts.append(f"### `{title}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def render(current: str) -> str:
    """`current` with its generated section replaced."""
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{reference()}\n{END}{tail}"


if __name__ == "__main__":
    text = DOC.read_text()
    new = render(text)
    if "--check" in sys.argv:
        sys.exit(
            0 if new == text else "docs/cli.md is out of date: run python docs/generate_cli_md.py"
        )
    DOC.write_text(new)
