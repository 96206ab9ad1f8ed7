"""The cohort analysis rounds score changes exactly as the shown figures say."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from apart_engine.analysis import _change
from apart_engine.scoring import round_half_up

scores = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
shown = st.integers(min_value=0, max_value=1000).map(lambda tenths: tenths / 10)


def _by_fractions(before: float, after: float) -> float:
    return round_half_up(Fraction(str(after)) - Fraction(str(before)))


class TestChange:
    @given(scores | shown, scores | shown)
    def test_matches_the_exact_fraction_of_the_shown_figures(
        self, before: float, after: float
    ) -> None:
        expected = _by_fractions(before, after)
        found = _change(before, after)
        assert found == expected
        assert math.copysign(1, found) == math.copysign(1, expected)

    def test_halves_round_away_from_zero(self) -> None:
        assert _change(0.0, 0.25) == 0.3
        assert _change(0.25, 0.0) == -0.3

    def test_a_change_too_small_to_show_is_positive_zero(self) -> None:
        assert str(_change(42.34, 42.3)) == "0.0"

    def test_an_unknown_score_gives_no_change(self) -> None:
        assert _change(None, 12.5) is None
        assert _change(12.5, None) is None
