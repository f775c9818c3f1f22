"""The proof: systemd-analyze over the emitted lines == the reference enumerator.

In UTC the model is plain cron; in America/New_York and Europe/London it is the
documented DST policy, checked from New Year and from each 2026 transition day.
"""

from __future__ import annotations

from cron_corpus import CORPUS
from cron_oracle import FULL_BASES, TRANSITION_BASES, cron_expressions, mismatches
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

BATCH = 50


def test_corpus_matches_systemd_in_utc_and_across_2026_transitions() -> None:
    expressions = [expr for _, expr, lines, _ in CORPUS if lines is not None]
    assert len(expressions) == 59  # 11 of the 70 are rejected
    assert mismatches(expressions, FULL_BASES) == []


@settings(
    max_examples=11,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),  # a failure names its expression; no shrinking
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(cron_expressions, min_size=BATCH, max_size=BATCH, unique=True))
def test_generated_expressions_match_systemd(expressions: list[str]) -> None:
    """11 batches of 50 distinct generated expressions (550), each batch in few processes."""
    assert mismatches(expressions, TRANSITION_BASES) == []
