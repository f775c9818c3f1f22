"""SMTP settings from the original SQL Sentinel's environment variables."""

from __future__ import annotations

import re

import pytest

from sqlsentinel.config.loader import load_text
from sqlsentinel.config.smtp_env import SmtpEnvError, smtp_from_env
from sqlsentinel.core.spec import SmtpSpec


def test_unset_host_means_no_smtp() -> None:
    assert smtp_from_env({}) is None
    assert smtp_from_env({"SMTP_HOST": " ", "SMTP_PORT": "25"}) is None


def test_original_names_and_defaults() -> None:
    env = {
        "SMTP_HOST": "mail.example.com",
        "SMTP_USERNAME": "bob",
        "SMTP_PASSWORD": "pw",
        "SMTP_FROM_ADDRESS": "alerts@example.com",
    }
    assert smtp_from_env(env) == SmtpSpec(
        host="mail.example.com",
        port=587,
        username="bob",
        password="pw",
        from_address="alerts@example.com",
        starttls=True,
        ssl=False,
    )


def test_aliases_plain_and_implicit_tls() -> None:
    spec = smtp_from_env(
        {"SMTP_HOST": "h", "SMTP_USER": "u", "SMTP_FROM": "f@x", "SMTP_USE_TLS": "false"}
    )
    assert spec is not None
    assert (spec.username, spec.from_address, spec.starttls, spec.ssl) == ("u", "f@x", False, False)
    ssl465 = smtp_from_env({"SMTP_HOST": "h", "SMTP_PORT": "465"})
    assert ssl465 is not None and (ssl465.ssl, ssl465.starttls) == (True, False)
    explicit = smtp_from_env({"SMTP_HOST": "h", "SMTP_USE_SSL": "yes", "SMTP_TIMEOUT": "2.5"})
    assert explicit is not None and (explicit.port, explicit.ssl, explicit.timeout) == (
        587,
        True,
        2.5,
    )
    preferred = smtp_from_env({"SMTP_HOST": "h", "SMTP_USER": "a", "SMTP_USERNAME": "b"})
    assert preferred is not None and preferred.username == "b"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT='smtp': expected a positive number"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT=70000: expected a port number"),
        ({"SMTP_USE_TLS": "maybe"}, "SMTP_USE_TLS='maybe': expected true or false"),
        ({"SMTP_TIMEOUT": "-1"}, "SMTP_TIMEOUT='-1': expected a positive number"),
        ({"SMTP_TIMEOUT": "nan"}, "SMTP_TIMEOUT='nan': expected a positive number"),
        ({"SMTP_TIMEOUT": "inf"}, "SMTP_TIMEOUT='inf': expected a positive number"),
        ({"SMTP_TIMEOUT": "0"}, "SMTP_TIMEOUT='0': expected a positive number"),
        ({"SMTP_TIMEOUT": "1e9"}, "SMTP_TIMEOUT='1e9': expected a positive number"),
        (
            {"SMTP_PORT": "\u0665\u0668\u0667"},
            "SMTP_PORT='\u0665\u0668\u0667': expected a positive",
        ),
        ({"SMTP_HOST": "mail example.com"}, "SMTP_HOST='mail example.com': expected a host name"),
        ({"SMTP_FROM": "a@x\nBcc: b@y"}, "SMTP_FROM_ADDRESS='a@x\\nBcc: b@y': expected an email"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SmtpEnvError, match="^" + re.escape(message)):
        smtp_from_env({"SMTP_HOST": "h", **env})


def test_a_bad_variable_breaks_the_alerts_that_send_email() -> None:
    text = (
        "database: {url: 'sqlite:///x.db'}\nalerts:\n  - name: a\n    query: SELECT 1\n"
        "    schedule: '* * * * *'\n    notify:\n      - channel: email\n"
        "        recipients: [ops@example.com]\n"
    )
    loaded = load_text(text, "c.yaml", {"SMTP_HOST": "mail", "SMTP_TIMEOUT": "nan"})
    assert [str(p) for p in loaded.broken["a"]] == [
        "c.yaml:1: SMTP settings from the environment: "
        "SMTP_TIMEOUT='nan': expected a positive number"
    ]
    assert loaded.warnings == ()  # and no second message about missing SMTP settings
