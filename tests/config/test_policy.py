"""`receivers:` and `policy:` compiled into specs: targets, rules, warnings, the cache."""

from __future__ import annotations

from textwrap import dedent

from sqlsentinel.config.loader import LoadedConfig, load_text
from sqlsentinel.core.route import parse_severity_match
from sqlsentinel.core.spec import alert_from_json, alert_to_json

CONFIG = """\
database:
  url: sqlite:////tmp/x.db
databases:
  dwh:
    url: sqlite:////tmp/dwh.db
receivers:
  chat:
    - channel: webhook
      url: https://chat.example.com/hook
  pager:
    - channel: webhook
      url: https://pager.example.com/hook
    - channel: slack
      webhook_url: https://hooks.slack.com/services/T/B/X
policy:
  - match: {severity: critical}
    notify: pager
    repeat: 10m
  - match: {alert: 'billing-*', tags: [money], database: dwh}
    notify: [chat]
    continue: true
  - match: {key: {region: eu}}
    notify: chat
alerts:
  - name: load
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
    notify:
      - chat
      - channel: webhook
        url: https://inline.example.com/hook
  - name: billing-late
    database: dwh
    tags: money
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
  - name: quiet
    database: dwh
    query: SELECT 'OK' AS status
    schedule: '*/5 * * * *'
    severity: warning
  - name: per-region
    query: SELECT 'eu' AS region, 'OK' AS status
    schedule: '*/5 * * * *'
    key: region
"""


def load(text: str = CONFIG) -> LoadedConfig:
    return load_text(dedent(text), "c.yaml", {})


def test_receivers_and_rules_compile_per_alert() -> None:
    loaded = load()
    load_, billing, quiet, regions = loaded.alerts
    # inline targets first (their old positions), then each receiver it may reach
    assert [(t.receiver, t.options["url"]) for t in load_.notify if t.channel == "webhook"] == [
        ("", "https://inline.example.com/hook"),
        ("chat", "https://chat.example.com/hook"),
        ("pager", "https://pager.example.com/hook"),
    ]
    assert load_.receivers == ("chat",)
    assert [r.receivers for r in load_.policy] == [("pager",)]  # no tags, not keyed
    assert load_.policy[0].repeat == 600.0 and load_.policy[0].line == 16
    assert load_.policy[0].match.severity == parse_severity_match("critical")
    assert [r.receivers for r in billing.policy] == [("pager",), ("chat",)]
    assert billing.policy[1].continue_ and billing.receivers == ()
    # a severity column may still make `quiet` critical: the pager rule stays
    assert [r.receivers for r in quiet.policy] == [("pager",)]
    assert [r.receivers for r in regions.policy] == [("pager",), ("chat",)]
    assert regions.policy[1].match.key == {"region": "eu"}
    assert not loaded.warnings


def test_an_alert_nobody_is_told_about_is_a_warning() -> None:
    text = CONFIG.replace(
        "  - match: {severity: critical}\n    notify: pager\n    repeat: 10m\n", ""
    )
    warnings = [str(w) for w in load(text).warnings]
    assert warnings == [
        "c.yaml:34: alerts[2] (alert 'quiet'): has no notify: and no policy: rule matches it, "
        "so nobody is told"
    ]


def test_without_a_policy_nothing_changes() -> None:
    text = """\
    database:
      url: sqlite:////tmp/x.db
    alerts:
      - name: a
        query: SELECT 'OK' AS status
        schedule: '*/5 * * * *'
    """
    (a,) = load(text).alerts
    assert (a.notify, a.receivers, a.policy) == ((), (), ())
    assert not load(text).warnings


def test_the_compiled_cache_keeps_the_policy() -> None:
    for alert in load().alerts:
        assert alert_from_json(alert_to_json(alert)) == alert


def test_a_glob_that_matches_no_alert_is_a_warning() -> None:
    text = CONFIG.replace("alert: 'billing-*'", "alert: 'biling-*'")
    assert [str(w) for w in load(text).warnings] == [
        "c.yaml:19: policy[1].match.alert: 'biling-*' matches no alert's name"
    ]
