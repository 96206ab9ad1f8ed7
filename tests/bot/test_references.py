"""Case references: codes that cannot identify a young person."""

from __future__ import annotations

import pytest

from bot.errors import InvalidReferenceError
from bot.references import check_reference, suggest_reference


class TestCheckReference:
    @pytest.mark.parametrize(
        "reference", ["YP-A1", "CSE/2041", "CSE-2041", "ab12", "T_7", "YP-7KQ3", "YP-X9Y9"]
    )
    def test_accepts_codes(self, reference: str) -> None:
        assert check_reference(f"  {reference} ") == reference

    @pytest.mark.parametrize(
        ("typed", "reason"),
        [
            ("Jane", "name or initials"),
            ("JS", "name or initials"),
            ("Jane Smith", "no spaces"),
            ("12/03/2011", "date"),
            ("2011-03-12", "date"),
            ("12Mar2011", "date"),
            ("YP-120311", "date"),
            ("07700900123", "phone number"),
            ("+44 7700 900123", "phone number"),
            ("jane@example.org", "email"),
            ("SW1A 1AA", "postcode"),
            ("M1 1AE", "postcode"),
            ("SW1A-1AA", "postcode"),
            ("YP-SW1A1AA", "postcode"),
            ("M1-1AE", "postcode"),
            ("yp/m1_1ae", "postcode"),
            ("B33-8TH-2", "postcode"),
            ("2041", "only of digits"),
            ("", "empty"),
            ("A" * 21, "too long"),
            ("YP<b>1</b>", "letters, digits"),
        ],
    )
    def test_refuses_what_could_identify_someone_with_the_reason(
        self, typed: str, reason: str
    ) -> None:
        with pytest.raises(InvalidReferenceError, match=reason):
            check_reference(typed)


class TestSuggestReference:
    def test_suggestions_are_acceptable_references(self) -> None:
        for _ in range(200):
            check_reference(suggest_reference())
