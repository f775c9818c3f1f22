"""`--env-file` reads a file as systemd itself does: the same variables as a real
manager's `EnvironmentFile=` gives a service (systemd 252, the user manager harness)."""

from __future__ import annotations

from pathlib import Path

from systemd_harness import UserManager

from sqlsentinel.config.env_file import parse_env_file

CORPUS = r"""# a comment
; another comment
T_PLAIN=1
  T_SPACED  =   two words<TRAILING SPACES>
T_SINGLE='  kept "as" $written\n  '
T_DOUBLE="a\"b\$c\`d\\e\nf"
T_JOINED=first\
second
T_ESCAPED=a\ b\#c
T_QUOTES_THEN='x'y "z"
T_EMPTY=
T_MULTI="one
two"
# a comment that goes on \
T_HIDDEN=by the comment above
export T_EXPORTED=1
9T_DIGIT=1
T_NO_EQUALS
T_TWICE=first
T_TWICE=second
T_UNICODE=Équipe « ops »
T_LAST=no newline at the end""".replace("<TRAILING SPACES>", "  \t ")


def test_the_variables_are_those_systemd_gives_a_service(
    user_manager: UserManager, tmp_path: Path
) -> None:
    env_file = tmp_path / "corpus.env"
    env_file.write_text(CORPUS)
    done = user_manager.run(
        "systemd-run", "--user", "--wait", "--pipe", "--quiet", "--collect",
        "-p", f"EnvironmentFile={env_file}", "/usr/bin/env", "-0",
    )  # fmt: skip
    given = dict(entry.split("=", 1) for entry in done.stdout.split("\0") if entry.startswith("T_"))
    ours = parse_env_file(CORPUS, str(env_file))
    assert ours.values == given
    assert len(given) >= 12  # the corpus exercises each state of the grammar
    assert "T_HIDDEN" not in given and given["T_TWICE"] == "second"
    assert sorted(p.line for p in ours.ignored) == [16, 17]  # `export …` and `9T_DIGIT`
