"""The default instrument, and the checks that guard any instrument file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from apart_engine import (
    DEFAULT_INSTRUMENT_PATH,
    AskedAt,
    AssessmentKind,
    InstrumentError,
    ItemKind,
    SectionRole,
    default_instrument,
    load_instrument,
)
from tests.vignettes import load_vignettes

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from apart_engine import Item

DEFAULT_TEXT = DEFAULT_INSTRUMENT_PATH.read_text(encoding="utf-8")

CONTEXT_ITEMS = (
    "age",
    "gender",
    "ethnicity",
    "disability",
    "living_situation",
    "looked_after",
    "plan",
    "education",
    "referral_source",
    "type_of_concern",
    "agencies",
    "history",
    "events",
)


class TestDefaultInstrument:
    def test_it_loads_with_the_spec_sections(self) -> None:
        instrument = default_instrument()

        assert (instrument.id, instrument.version) == ("apart-default", "1.0")
        assert [section.role for section in instrument.sections] == [
            SectionRole.CONTEXT,
            SectionRole.RISK,
            SectionRole.RESILIENCE,
        ]
        assert instrument.section(SectionRole.RISK).id == "risk"
        assert instrument.section(SectionRole.RESILIENCE).id == "resilience"

    def test_it_is_loaded_once(self) -> None:
        assert default_instrument() is default_instrument()

    def test_context_items_have_the_agreed_ids(self) -> None:
        context = default_instrument().section(SectionRole.CONTEXT)

        assert tuple(item.id for item in context.items) == CONTEXT_ITEMS

    def test_risk_has_sixteen_items_in_three_domains(self) -> None:
        risk = default_instrument().section(SectionRole.RISK)

        assert [item.id for item in risk.items] == [f"R{n}" for n in range(1, 17)]
        assert risk.domains == ("Exploitation and harm", "Health and wellbeing", "Context")
        assert [point.label for point in risk.scale] == [
            "not present",
            "some or occasional concern",
            "frequent or moderate concern",
            "persistent or serious concern",
        ]

    def test_resilience_has_eleven_items_in_three_domains(self) -> None:
        resilience = default_instrument().section(SectionRole.RESILIENCE)

        assert [item.id for item in resilience.items] == [f"P{n}" for n in range(1, 12)]
        assert resilience.domains == (
            "Relationships and support",
            "Knowledge and safety",
            "Wellbeing and future",
        )
        assert resilience.max_value == 3

    def test_bands_match_the_spec(self) -> None:
        instrument = default_instrument()
        risk = instrument.section(SectionRole.RISK)
        resilience = instrument.section(SectionRole.RESILIENCE)

        assert [(band.name, band.min, band.below) for band in risk.bands] == [
            ("Low", 0, 25),
            ("Medium", 25, 50),
            ("High", 50, None),
        ]
        assert [(band.name, band.min, band.below) for band in resilience.bands] == [
            ("Low", 0, 34),
            ("Developing", 34, 67),
            ("Strong", 67, None),
        ]
        assert instrument.band_names("risk") == ("Low", "Medium", "High")

    def test_harm_override_covers_r1_to_r3_at_three(self) -> None:
        (rule,) = default_instrument().section(SectionRole.RISK).override

        assert (rule.items, rule.at_least, rule.min_band) == (("R1", "R2", "R3"), 3, "High")
        assert rule.reason

    def test_timing_and_thresholds_live_in_the_file(self) -> None:
        instrument = default_instrument()

        assert instrument.timing.review_interval_months == 3
        assert instrument.timing.window_days == 30
        assert instrument.thresholds.meaningful_change == 10
        assert instrument.thresholds.incomplete_unknown_share == 0.3
        assert instrument.thresholds.adjustment_reason_min_words == 3

    def test_item_ids_and_labels_fit_their_limits(self) -> None:
        for section in default_instrument().sections:
            for item in section.items:
                assert len(item.id) <= 16, item.id
                assert len(item.label) <= 32, item.id
                assert item.prompt.count(".") + item.prompt.count("?") == 1, item.id

    def test_rating_items_are_all_scored_items(self) -> None:
        instrument = default_instrument()

        assert len(instrument.rating_items) == 27
        assert all(item.kind is ItemKind.RATING for item in instrument.rating_items)
        assert all(item.domain for item in instrument.rating_items)

    def test_nothing_identifying_is_asked(self) -> None:
        context = default_instrument().section(SectionRole.CONTEXT)
        wording = " ".join(
            f"{item.id} {item.label} {item.prompt}".lower() for item in context.items
        )

        for identifying in ("name", "birth", "address", "postcode"):
            assert identifying not in wording
        assert all(item.kind is not ItemKind.TEXT for item in context.items)

    def test_none_clears_the_other_history_and_event_options(self) -> None:
        instrument = default_instrument()

        assert instrument.item("history").exclusive == ("none",)
        assert instrument.item("events").exclusive == ("none",)

    def test_events_are_asked_only_at_reviews_and_closures(self) -> None:
        instrument = default_instrument()

        assert instrument.item("events").asked_at is AskedAt.REVIEW
        assert "events" not in _ids(instrument.items_for(AssessmentKind.BASELINE))
        assert "events" in _ids(instrument.items_for(AssessmentKind.REVIEW))
        assert "events" in _ids(instrument.items_for(AssessmentKind.CLOSURE))

    def test_age_at_baseline_is_asked_only_at_the_baseline(self) -> None:
        instrument = default_instrument()

        assert "age" in _ids(instrument.items_for(AssessmentKind.BASELINE))
        assert "age" not in _ids(instrument.items_for(AssessmentKind.REVIEW))

    def test_items_come_context_then_risk_then_resilience(self) -> None:
        item_ids = _ids(default_instrument().items_for(AssessmentKind.REVIEW))

        assert item_ids.index("events") < item_ids.index("R1") < item_ids.index("P1")
        assert item_ids[-1] == "P11"

    def test_every_vignette_background_value_is_an_option_label(self) -> None:
        instrument = default_instrument()

        for vignette in load_vignettes():
            for item_id, answer in vignette.background.items():
                item = instrument.item(item_id)
                if item.kind is ItemKind.NUMBER:
                    assert isinstance(answer, int)
                    assert item.minimum is not None
                    assert item.maximum is not None
                    assert item.minimum <= answer <= item.maximum
                    continue
                labels = {option.label for option in item.options}
                answers = answer if isinstance(answer, tuple) else (answer,)
                assert set(answers) <= labels, (vignette.reference, item_id)

    def test_every_vignette_event_is_an_option_label(self) -> None:
        labels = {option.label for option in default_instrument().item("events").options}

        for vignette in load_vignettes():
            for assessment in vignette.assessments:
                assert set(assessment.events) <= labels, vignette.reference

    def test_lookups_of_unknown_ids_raise_key_error(self) -> None:
        instrument = default_instrument()

        with pytest.raises(KeyError):
            instrument.item("R17")
        with pytest.raises(KeyError):
            instrument.section_of("R17")
        with pytest.raises(KeyError):
            instrument.band_names("nowhere")

    def test_an_option_is_found_by_its_exact_label(self) -> None:
        education = default_instrument().item("education")

        assert education.option_by_label("in school, poor attendance").id == "poor_attendance"
        with pytest.raises(KeyError):
            education.option_by_label("In school")

    def test_section_of_finds_the_items_section(self) -> None:
        assert default_instrument().section_of("P3").id == "resilience"


# Each case breaks a copy of the default file in one way; the message must name the file,
# the place and the fix.
BROKEN_FILES = {
    "duplicate item id": (
        'id = "P7"',
        'id = "R7"',
        'apart-default.toml: item "R7" appears twice (sections "risk" and "resilience"); '
        "give every item its own id.",
    ),
    "duplicate section id": (
        'id = "resilience"',
        'id = "risk"',
        'apart-default.toml: section "risk" appears twice; give every section its own id.',
    ),
    "empty section": (
        "# --- Section B",
        '[[sections]]\nid = "extra"\ntitle = "Extra"\nrole = "context"\n\n# --- Section B',
        'section "extra": the section has no items; add at least one item',
    ),
    "band gap": (
        '{ name = "Medium", min = 25, below = 50 }',
        '{ name = "Medium", min = 26, below = 50 }',
        'section "risk": bands "Low" and "Medium" leave a gap; start "Medium" at 25',
    ),
    "band overlap": (
        '{ name = "Developing", min = 34, below = 67 }',
        '{ name = "Developing", min = 30, below = 67 }',
        'section "resilience": bands "Low" and "Developing" leave an overlap; '
        'start "Developing" at 34',
    ),
    "bands not starting at zero": (
        '{ name = "Low", min = 0, below = 25 }',
        '{ name = "Low", min = 5, below = 25 }',
        'section "risk": the first band "Low" starts at 5; start it at 0.',
    ),
    "top band with an upper end": (
        '{ name = "High", min = 50 }',
        '{ name = "High", min = 50, below = 100 }',
        'section "risk": the last band "High" stops below 100; remove its "below"',
    ),
    "unknown item kind": (
        'kind = "number"',
        'kind = "slider"',
        'section "context", item "age": "kind" is "slider", which is not allowed; use one of',
    ),
    "rating item without a domain": (
        'label = "Isolation"\ndomain = "Context"\n',
        'label = "Isolation"\n',
        'section "risk", item "R16": rating items need a domain; add domain = ',
    ),
    "override naming an unknown item": (
        'items = ["R1", "R2", "R3"]',
        'items = ["R1", "R2", "R33"]',
        'section "risk": the override names item "R33", which is not in this section; '
        "correct the id",
    ),
    "override naming an unknown band": (
        'min_band = "High"',
        'min_band = "Severe"',
        'section "risk": the override raises the band to "Severe", which is not a band of '
        'this section; use one of "Low", "Medium", "High".',
    ),
    "item id too long": (
        'id = "R16"',
        'id = "R16_isolation_long"',
        'item "R16_isolation_long": the item id "R16_isolation_long" must be 1 to 16 letters',
    ),
    "no resilience section": (
        'role = "resilience"',
        'role = "risk"',
        "apart-default.toml: there is no resilience section; add a section with role = "
        '"resilience".',
    ),
    "scale with a gap": (
        '{ value = 2, label = "partly in place"',
        '{ value = 5, label = "partly in place"',
        'section "resilience": a scored section needs a scale numbered 0, 1, 2',
    ),
    "choice item without options": (
        '    { id = "yes", label = "yes" },\n    { id = "no", label = "no" },\n]',
        "]",
        'section "context", item "looked_after": choice items need options; add at least one',
    ),
    "unknown setting": (
        "window_days = 30",
        "window_days = 30\nwindow_weeks = 4",
        'apart-default.toml: "timing.window_weeks" is not a setting the instrument knows; '
        "remove it or correct it.",
    ),
}


class TestBrokenFiles:
    @pytest.mark.parametrize("case", BROKEN_FILES, ids=list(BROKEN_FILES))
    def test_message_names_the_file_the_place_and_the_fix(
        self,
        tmp_path: Path,
        case: str,
    ) -> None:
        old, new, expected = BROKEN_FILES[case]
        assert old in DEFAULT_TEXT, "the case no longer matches the default file"
        path = tmp_path / "apart-default.toml"
        path.write_text(DEFAULT_TEXT.replace(old, new, 1), encoding="utf-8")

        with pytest.raises(InstrumentError) as caught:
            load_instrument(path)

        assert str(caught.value).startswith("apart-default.toml: ")
        assert expected in str(caught.value)

    def test_a_scored_section_needs_a_scale(self, tmp_path: Path) -> None:
        start = DEFAULT_TEXT.index("scale = [", DEFAULT_TEXT.index('role = "resilience"'))
        end = DEFAULT_TEXT.index("]\n", start) + 2
        path = tmp_path / "apart-default.toml"
        path.write_text(DEFAULT_TEXT[:start] + DEFAULT_TEXT[end:], encoding="utf-8")

        with pytest.raises(InstrumentError, match='section "resilience": a scored section needs'):
            load_instrument(path)

    def test_bad_toml_names_the_file_and_the_line(self, tmp_path: Path) -> None:
        path = tmp_path / "local.toml"
        path.write_text(DEFAULT_TEXT + "\nthis is not toml\n", encoding="utf-8")

        with pytest.raises(InstrumentError, match=r"^local\.toml: the file is not valid TOML"):
            load_instrument(path)

    def test_missing_file_names_the_path(self, tmp_path: Path) -> None:
        path = tmp_path / "absent.toml"

        with pytest.raises(InstrumentError) as caught:
            load_instrument(path)

        assert str(caught.value).startswith("absent.toml: there is no instrument file at")
        assert str(path) in str(caught.value)

    def test_a_directory_is_not_an_instrument(self, tmp_path: Path) -> None:
        with pytest.raises(InstrumentError, match="cannot be read"):
            load_instrument(tmp_path)

    def test_every_problem_gets_its_own_line(self, tmp_path: Path) -> None:
        text = DEFAULT_TEXT.replace('kind = "number"', 'kind = "slider"')
        text = text.replace('label = "Isolation"\ndomain = "Context"\n', 'label = "Isolation"\n')
        path = tmp_path / "apart-default.toml"
        path.write_text(text, encoding="utf-8")

        with pytest.raises(InstrumentError) as caught:
            load_instrument(path)

        assert len(str(caught.value).splitlines()) == 2

    def test_a_valid_copy_loads_from_a_string_path(self, tmp_path: Path) -> None:
        path = tmp_path / "copy.toml"
        path.write_text(DEFAULT_TEXT, encoding="utf-8")

        assert load_instrument(str(path)) == default_instrument()


def _ids(items: Iterable[Item]) -> list[str]:
    return [item.id for item in items]
