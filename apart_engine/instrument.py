"""The assessment instrument: sections, items, scales and bands, loaded from a TOML file."""

import functools
import itertools
import re
import tomllib
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from apart_engine.errors import InstrumentError

DEFAULT_INSTRUMENT_PATH = Path(__file__).with_name("instruments") / "apart-default.toml"

MAX_LABEL_LENGTH = 32

_ITEM_ID = re.compile(r"[A-Za-z0-9_]{1,16}")
# Option ids travel in Telegram callback data, which is capped at 64 bytes.
_OPTION_ID = re.compile(r"[A-Za-z0-9_]{1,32}")


class ItemKind(StrEnum):
    """How an item is answered."""

    RATING = "rating"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"


class SectionRole(StrEnum):
    """What a section is for: recorded context or one of the two scores."""

    CONTEXT = "context"
    RISK = "risk"
    RESILIENCE = "resilience"


class AssessmentKind(StrEnum):
    """The occasion of an assessment."""

    BASELINE = "baseline"
    REVIEW = "review"
    CLOSURE = "closure"


class AskedAt(StrEnum):
    """Which assessments ask an item; REVIEW covers reviews and closures."""

    ALWAYS = "always"
    BASELINE = "baseline"
    REVIEW = "review"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Option(_Frozen):
    """One answer of a choice or multichoice item."""

    id: str
    label: str

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _OPTION_ID.fullmatch(value):
            raise ValueError(
                f'the option id "{value}" must be 1 to 32 letters, digits or underscores; '
                "rename it."
            )
        return value


class ScalePoint(_Frozen):
    """One point of a rating scale, with its full wording and a button-sized label."""

    value: int
    label: str
    short: str


class Band(_Frozen):
    """A named score range: from `min` inclusive to `below` exclusive (None: no upper end)."""

    name: str
    min: float
    below: float | None = None


class OverrideRule(_Frozen):
    """Any of `items` rated `at_least` puts the section in `min_band` or higher."""

    items: tuple[str, ...]
    at_least: int
    min_band: str
    reason: str


class Item(_Frozen):
    """One question of the instrument."""

    id: str
    label: str
    prompt: str
    kind: ItemKind
    domain: str | None = None
    options: tuple[Option, ...] = ()
    exclusive: tuple[str, ...] = ()
    optional: bool = False
    asked_at: AskedAt = AskedAt.ALWAYS
    minimum: int | None = None
    maximum: int | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ITEM_ID.fullmatch(value):
            raise ValueError(
                f'the item id "{value}" must be 1 to 16 letters, digits or underscores; rename it.'
            )
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        _raise_first(_item_problems(self))
        return self

    def option_by_label(self, label: str) -> Option:
        """The option with this exact label (KeyError if there is none)."""
        for option in self.options:
            if option.label == label:
                return option
        raise KeyError(label)


class Section(_Frozen):
    """A group of items; scored sections carry a scale, bands and override rules."""

    id: str
    title: str
    role: SectionRole
    scale: tuple[ScalePoint, ...] = ()
    bands: tuple[Band, ...] = ()
    override: tuple[OverrideRule, ...] = ()
    items: tuple[Item, ...] = ()

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ITEM_ID.fullmatch(value):
            raise ValueError(
                f'the section id "{value}" must be 1 to 16 letters, digits or underscores; '
                "rename it."
            )
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        _raise_first(_section_problems(self))
        return self

    @property
    def scored(self) -> bool:
        """Whether the section produces a score."""
        return self.role is not SectionRole.CONTEXT

    @property
    def domains(self) -> tuple[str, ...]:
        """The domains of the section's items, in order of first appearance."""
        named = (item.domain for item in self.items if item.domain is not None)
        return tuple(dict.fromkeys(named))

    @property
    def max_value(self) -> int:
        """The top of the rating scale (0 for an unscored section)."""
        return max((point.value for point in self.scale), default=0)

    @property
    def band_names(self) -> tuple[str, ...]:
        """The band names, low to high."""
        return tuple(band.name for band in self.bands)


class Timing(_Frozen):
    """When reviews fall due."""

    review_interval_months: int = Field(default=3, ge=1)
    window_days: int = Field(default=30, ge=0)


class Thresholds(_Frozen):
    """The figures that turn scores into flags."""

    meaningful_change: float = Field(default=10, gt=0)
    incomplete_unknown_share: float = Field(default=0.3, ge=0, le=1)
    adjustment_reason_min_words: int = Field(default=3, ge=0)


class Instrument(_Frozen):
    """A whole assessment instrument, as read from its file."""

    id: str
    version: str
    title: str
    rating_window: str
    sections: tuple[Section, ...]
    timing: Timing = Field(default_factory=Timing)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    _items: dict[str, Item] = PrivateAttr(default_factory=dict)
    _section_of: dict[str, Section] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        _raise_first(_instrument_problems(self))
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Index the items by id, so that look-ups during a conversation are cheap."""
        for section in self.sections:
            for item in section.items:
                self._items.setdefault(item.id, item)
                self._section_of.setdefault(item.id, section)

    def item(self, item_id: str) -> Item:
        """The item with this id (KeyError if there is none)."""
        return self._items[item_id]

    def section_of(self, item_id: str) -> Section:
        """The section holding this item (KeyError if there is none)."""
        return self._section_of[item_id]

    def section(self, role: SectionRole) -> Section:
        """The first section with this role (KeyError if there is none)."""
        for section in self.sections:
            if section.role is role:
                return section
        raise KeyError(role)

    def section_by_id(self, section_id: str) -> Section:
        """The section with this id (KeyError if there is none)."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    @property
    def scored_sections(self) -> tuple[Section, ...]:
        """The risk and resilience sections, in file order."""
        return tuple(section for section in self.sections if section.scored)

    @property
    def rating_items(self) -> tuple[Item, ...]:
        """Every rating item, in file order."""
        return tuple(item for section in self.scored_sections for item in section.items)

    def items_for(self, kind: AssessmentKind) -> tuple[Item, ...]:
        """Every item asked at this kind of assessment, in file order."""
        asked = {AskedAt.ALWAYS, _ASKED_AT_FOR[kind]}
        return tuple(
            item for section in self.sections for item in section.items if item.asked_at in asked
        )

    def band_names(self, section_id: str) -> tuple[str, ...]:
        """The band names of a section, low to high."""
        return self.section_by_id(section_id).band_names


_ASKED_AT_FOR = {
    AssessmentKind.BASELINE: AskedAt.BASELINE,
    AssessmentKind.REVIEW: AskedAt.REVIEW,
    AssessmentKind.CLOSURE: AskedAt.REVIEW,
}


def load_instrument(path: str | Path) -> Instrument:
    """Read and check an instrument file; any problem becomes an InstrumentError."""
    path = Path(path)

    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise InstrumentError(
            f"{path.name}: there is no instrument file at {path}; check the path or restore "
            "the file."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InstrumentError(
            f"{path.name}: the file is not valid TOML ({exc}); correct the syntax there."
        ) from None
    except OSError as exc:
        raise InstrumentError(
            f"{path.name}: the file cannot be read ({exc.strerror}); check that it is a "
            "readable file."
        ) from None

    try:
        return Instrument.model_validate(raw)
    except ValidationError as exc:
        lines = (_explain(path.name, raw, error) for error in exc.errors())
        raise InstrumentError("\n".join(lines)) from None


@functools.cache
def default_instrument() -> Instrument:
    """The instrument that ships with the engine, loaded once."""
    return load_instrument(DEFAULT_INSTRUMENT_PATH)


def _raise_first(problems: Iterator[str]) -> None:
    # One problem at a time keeps each message short enough to act on.
    problem = next(problems, None)
    if problem is not None:
        raise ValueError(problem)


def _item_problems(item: Item) -> Iterator[str]:
    if not item.label or len(item.label) > MAX_LABEL_LENGTH:
        yield (
            f'the label "{item.label}" has {len(item.label)} characters; make it 1 to '
            f"{MAX_LABEL_LENGTH} so it fits a phone screen."
        )
    if not item.prompt.strip():
        yield "the prompt is empty; write one sentence that asks the question."

    if item.kind is ItemKind.RATING and not item.domain:
        yield 'rating items need a domain; add domain = "..." naming the group it is scored in.'

    takes_options = item.kind in (ItemKind.CHOICE, ItemKind.MULTICHOICE)
    if takes_options and not item.options:
        yield f"{item.kind} items need options; add at least one option."
    if item.options and not takes_options:
        yield f"{item.kind} items take no options; remove them or change the kind."
    yield from (
        f'option "{option_id}" appears twice; give every option its own id.'
        for option_id in _duplicates(option.id for option in item.options)
    )

    if item.exclusive and item.kind is not ItemKind.MULTICHOICE:
        yield 'only multichoice items have exclusive options; remove "exclusive".'
    option_ids = {option.id for option in item.options}
    yield from (
        f'the exclusive option "{option_id}" is not one of the options; add it or correct the id.'
        for option_id in item.exclusive
        if option_id not in option_ids
    )

    has_limits = item.minimum is not None or item.maximum is not None
    if has_limits and item.kind is not ItemKind.NUMBER:
        yield "only number items have a minimum or maximum; remove them or change the kind."
    if item.minimum is not None and item.maximum is not None and item.minimum > item.maximum:
        yield f"the minimum ({item.minimum}) is above the maximum ({item.maximum}); swap them."


def _section_problems(section: Section) -> Iterator[str]:
    if not section.items:
        yield "the section has no items; add at least one item or remove the section."
    if section.scored:
        yield from _scored_section_problems(section)
        return

    rating_items = [item.id for item in section.items if item.kind is ItemKind.RATING]
    if rating_items:
        yield (
            f'item "{rating_items[0]}" is a rating item in a context section, which has no '
            "scale; move it to a risk or resilience section."
        )
    if section.scale or section.bands or section.override:
        yield "a context section is not scored; remove its scale, bands and override rules."


def _scored_section_problems(section: Section) -> Iterator[str]:
    unrated = [item for item in section.items if item.kind is not ItemKind.RATING]
    if unrated:
        yield (
            f'item "{unrated[0].id}" is a {unrated[0].kind} item in a scored section; make it a '
            "rating item or move it to the context section."
        )

    values = [point.value for point in section.scale]
    if len(values) < 2 or values != list(range(len(values))):
        yield (
            "a scored section needs a scale numbered 0, 1, 2 and so on with no gaps; "
            "add or renumber its scale points."
        )

    yield from _band_problems(section.bands)
    yield from _override_problems(section)


def _band_problems(bands: tuple[Band, ...]) -> Iterator[str]:
    if not bands:
        yield "a scored section needs bands; add bands starting at min = 0."
        return

    yield from (
        f'band "{name}" appears twice; give every band its own name.'
        for name in _duplicates(band.name for band in bands)
    )
    if bands[0].min != 0:
        yield f'the first band "{bands[0].name}" starts at {bands[0].min:g}; start it at 0.'

    for lower, upper in itertools.pairwise(bands):
        if lower.below is None:
            yield (
                f'band "{lower.name}" has no upper end but is not the last band; give it a '
                '"below" value.'
            )
        elif upper.min != lower.below:
            gap_or_overlap = "a gap" if upper.min > lower.below else "an overlap"
            yield (
                f'bands "{lower.name}" and "{upper.name}" leave {gap_or_overlap}; start '
                f'"{upper.name}" at {lower.below:g}, where "{lower.name}" stops.'
            )

    for band in bands:
        if band.below is not None and band.below <= band.min:
            yield f'band "{band.name}" is empty; make its "below" larger than its "min".'
        if band.min > 100:
            yield f'band "{band.name}" starts above 100, so no score reaches it; lower its min.'

    if bands[-1].below is not None:
        yield (
            f'the last band "{bands[-1].name}" stops below {bands[-1].below:g}; remove its '
            '"below" so that every score up to 100 has a band.'
        )


def _override_problems(section: Section) -> Iterator[str]:
    item_ids = {item.id for item in section.items}
    values = {point.value for point in section.scale}
    for rule in section.override:
        if not rule.items:
            yield "an override rule names no items; add items or remove the rule."
        yield from (
            f'the override names item "{item_id}", which is not in this section; '
            "correct the id or remove it from the rule."
            for item_id in rule.items
            if item_id not in item_ids
        )
        if rule.at_least not in values:
            yield (
                f"the override triggers at {rule.at_least}, which is not on the scale; "
                "use one of the scale's values."
            )
        if rule.min_band not in section.band_names:
            known = ", ".join(f'"{name}"' for name in section.band_names)
            yield (
                f'the override raises the band to "{rule.min_band}", which is not a band of '
                f"this section; use one of {known}."
            )


def _instrument_problems(instrument: Instrument) -> Iterator[str]:
    yield from (
        f'section "{section_id}" appears twice; give every section its own id.'
        for section_id in _duplicates(section.id for section in instrument.sections)
    )

    homes: dict[str, list[str]] = {}
    for section in instrument.sections:
        for item in section.items:
            homes.setdefault(item.id, []).append(section.id)
    for item_id, section_ids in homes.items():
        if len(section_ids) > 1:
            yield (
                f'item "{item_id}" appears {_times(len(section_ids))} ({_where(section_ids)}); '
                "give every item its own id."
            )

    roles = {section.role for section in instrument.sections}
    for role in (SectionRole.RISK, SectionRole.RESILIENCE):
        if role not in roles:
            yield f'there is no {role} section; add a section with role = "{role}".'


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"


def _where(section_ids: list[str]) -> str:
    distinct = list(dict.fromkeys(section_ids))
    if len(distinct) == 1:
        return f'all in section "{distinct[0]}"'
    quoted = [f'"{section_id}"' for section_id in distinct]
    return f"sections {', '.join(quoted[:-1])} and {quoted[-1]}"


# How each list in the file is named in messages; an entry is then known by its id or name.
_ENTRY_NAMES = {
    "sections": "section",
    "items": "item",
    "options": "option",
    "scale": "scale point",
    "bands": "band",
    "override": "override rule",
}


def _explain(file_name: str, raw: object, error: ErrorDetails) -> str:
    """Turn one pydantic error into a line naming the file, the place and the fix."""
    place, field = _locate(raw, error["loc"])
    problem = _problem(field, error)
    return f"{file_name}: {place}: {problem}" if place else f"{file_name}: {problem}"


def _locate(raw: object, loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Describe where an error sits ('section "risk", item "R7"') and the field it names."""
    places: list[str] = []
    fields: list[str] = []
    node = raw
    for step in loc:
        node = _child(node, step)
        if isinstance(step, int) and fields and fields[-1] in _ENTRY_NAMES:
            places.append(_entry(_ENTRY_NAMES[fields.pop()], node, step))
            fields.clear()
        elif isinstance(step, str):
            fields.append(step)
    return ", ".join(places), ".".join(fields)


def _child(node: object, step: int | str) -> object:
    if isinstance(node, dict) and isinstance(step, str):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None


def _entry(kind: str, node: object, index: int) -> str:
    if isinstance(node, dict):
        for key in ("id", "name", "value"):
            if isinstance(node.get(key), str | int):
                return f'{kind} "{node[key]}"'
    return f"{kind} {index + 1}"


def _problem(field: str, error: ErrorDetails) -> str:
    context = error.get("ctx", {})
    match error["type"]:
        case "value_error":
            return str(context["error"])
        case "missing":
            return f'"{field}" is missing; add it.'
        case "extra_forbidden":
            return f'"{field}" is not a setting the instrument knows; remove it or correct it.'
        case "enum":
            return (
                f'"{field}" is "{error["input"]}", which is not allowed; use one of '
                f"{context['expected']}."
            )
        case _:
            message = error["msg"][0].lower() + error["msg"][1:]
            return f'"{field}": {message}; correct it.' if field else f"{message}; correct it."
