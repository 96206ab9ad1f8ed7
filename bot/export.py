"""Exports for analysts: one row per submitted assessment, as CSV or XLSX, with a dictionary.

Rows carry case references only: no name, no Telegram detail, no note. Dates are ISO
(YYYY-MM-DD) in CSV and real dates in XLSX. A blank item cell means Unknown. A text cell
that begins with =, +, -, @, a tab or a carriage return gets a leading ' (see `inert`).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from apart_engine.analysis import AssessmentRecord, months_between, period_of
from apart_engine.instrument import AssessmentKind, ItemKind, SectionRole
from bot.gc_pause import gc_paused
from bot.private_files import create_private, private_opener

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from apart_engine.instrument import Instrument, Item
    from bot.app import Services
    from bot.store import AnalysisRow, JsonValue, Staff

logger = logging.getLogger(__name__)

Cell = str | int | float | date | None

FORMATS = ("csv", "xlsx")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula when a text cell begins with it."""


def inert(value: Cell) -> Cell:
    """A text cell that a spreadsheet would run as a formula, made plain text by a leading '.

    A team name or a note such as =HYPERLINK("http://...") would otherwise run when the file
    is opened, and could send the sheet's contents elsewhere. Numbers and dates are left be.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    """One column of the export, as the data dictionary describes it."""

    name: str
    type: str
    description: str
    values: str = ""


def records_from_rows(
    instrument: Instrument, rows: Sequence[AnalysisRow]
) -> list[AssessmentRecord]:
    """The analysis records of stored assessments, with scores as they were submitted."""
    rating_ids = {item.id for item in instrument.rating_items}
    with gc_paused():
        return [_record(row, rating_ids) for row in rows]


def _record(row: AnalysisRow, rating_ids: set[str]) -> AssessmentRecord:
    sections = _sections(row)
    return AssessmentRecord(
        reference=row.reference,
        assessed_on=row.assessed_on,
        kind=AssessmentKind(row.kind),
        scores={sid: section.get("score") for sid, section in sections.items()},
        bands={sid: _band(section) for sid, section in sections.items()},
        domains={
            (sid, domain["name"]): domain.get("score")
            for sid, section in sections.items()
            for domain in section.get("domains", [])
        },
        ratings={k: _rating(v) for k, v in row.answers.items() if k in rating_ids},
        background=row.answers,
    )


def columns(instrument: Instrument) -> list[Column]:
    """Every column of the export, in order, with what it means."""
    found = [
        Column("reference", "text", "The young person's case reference (never a name)."),
        Column("team", "text", "The team the young person belongs to."),
        Column("kind", "text", "The occasion.", "baseline; review; closure"),
        Column("assessed_on", "date", "The date the assessment was done (YYYY-MM-DD)."),
        Column("baseline_on", "date", "The date of the young person's baseline, if any."),
        Column("days_since_baseline", "integer", "Days from the baseline to this assessment."),
        Column(
            "months_since_baseline",
            "decimal",
            "Calendar months from the baseline to this assessment, with the part-month as a "
            "fraction (one decimal).",
        ),
        Column(
            "support_period",
            "text",
            "Months-of-support period used in reports: after a months, up to and including b.",
            "baseline; 0-3; 3-6; 6-9; 9-12; 12+",
        ),
        Column("instrument_id", "text", "The instrument the assessment was answered on."),
        Column("instrument_version", "text", "That instrument's version."),
    ]
    for section in instrument.scored_sections:
        sid = section.id
        bands = "; ".join(section.band_names)
        found += [
            Column(f"{sid}_score", "decimal", f"{section.title}: score 0-100 (blank: no score)."),
            Column(f"{sid}_band", "text", f"{section.title}: band acted on.", bands),
            Column(
                f"{sid}_computed_band", "text", f"{section.title}: band from the score.", bands
            ),
            Column(
                f"{sid}_adjusted",
                "integer",
                f"{section.title}: 1 if the practitioner changed the band, else 0.",
            ),
            Column(
                f"{sid}_incomplete",
                "integer",
                f"{section.title}: 1 if too many items were Unknown to rely on the score.",
            ),
            Column(
                f"{sid}_override",
                "integer",
                f"{section.title}: 1 if an item rule raised the band whatever the score.",
            ),
            Column(f"{sid}_rated", "integer", f"{section.title}: items rated (not Unknown)."),
        ]
        found += [
            Column(_domain_column(sid, domain), "decimal", f"{section.title}, {domain}: 0-100.")
            for domain in section.domains
        ]
    for section in instrument.scored_sections:
        scale = "; ".join(f"{p.value} = {p.label}" for p in section.scale)
        found += [
            Column(item.id, "integer", f"{item.label}: {item.prompt} Blank: Unknown.", scale)
            for item in section.items
        ]
    context = instrument.section(SectionRole.CONTEXT)
    found += [_context_column(item) for item in context.items]
    return found


def table(instrument: Instrument, rows: Sequence[AnalysisRow]) -> list[dict[str, Cell]]:
    """The export's rows, one per submitted assessment, oldest first within each case."""
    names = [c.name for c in columns(instrument)]
    return [dict(zip(names, cells, strict=True)) for cells in _cells(instrument, rows)]


def _cells(instrument: Instrument, rows: Sequence[AnalysisRow]) -> Iterator[list[Cell]]:
    """Each row's cells in the order of `columns`; the instrument is walked once, not per row."""
    context = instrument.section(SectionRole.CONTEXT).items
    per_assessment = {i.id for i in instrument.items_for(AssessmentKind.REVIEW)} - {
        i.id for i in instrument.items_for(AssessmentKind.BASELINE)
    }
    sections = [
        (section.id, [(domain, _domain_column(section.id, domain)) for domain in section.domains])
        for section in instrument.scored_sections
    ]
    rating_ids = [item.id for item in instrument.rating_items]
    background_ids = [item.id for item in context if item.id not in per_assessment]
    # The cells below are built in `columns`' order: ten about the case, then these.
    tail = [name for sid, domains in sections for name in _score_names(sid, domains)]
    tail += rating_ids + [item.id for item in context]
    assert [c.name for c in columns(instrument)][10:] == tail, "cells out of column order"

    baselines = {r.reference: r.assessed_on for r in rows if r.kind == AssessmentKind.BASELINE}
    # Cases share the same few intervals (baseline to review), so each is worked out once.
    support: dict[tuple[date, date], tuple[int, float, str]] = {}
    carried: dict[str, dict[str, JsonValue]] = {}
    for row in rows:
        baseline_on = baselines.get(row.reference)
        # Reviews confirm the background; anything a review left out stands as last recorded.
        known = carried.setdefault(row.reference, {})
        known.update((k, row.answers[k]) for k in background_ids if k in row.answers)
        since: tuple[int | None, float | None, str | None] = (None, None, None)
        if baseline_on is not None and row.assessed_on >= baseline_on:
            span = (baseline_on, row.assessed_on)
            if span not in support:
                support[span] = (
                    (row.assessed_on - baseline_on).days,
                    round(months_between(*span), 1),
                    period_of(*span) or "baseline",
                )
            since = support[span]
            if row.kind == AssessmentKind.BASELINE:
                # A review on the baseline day shares its span but counts in the first period.
                since = (*since[:2], "baseline")
        cells: list[Cell] = [
            row.reference,
            row.team,
            row.kind,
            row.assessed_on,
            baseline_on,
            *since,
            row.instrument_id,
            row.instrument_version,
        ]
        stored = _sections(row)
        for sid, domains in sections:
            cells += _score_cells(stored.get(sid, {}), domains)
        # `_rating` inlined: this runs once per rating item of every row.
        cells += [
            v if isinstance(v, int) and not isinstance(v, bool) else None
            for v in map(row.answers.get, rating_ids)
        ]
        cells += [
            _context_cell((row.answers if item.id in per_assessment else known).get(item.id))
            for item in context
        ]
        yield cells


def write_csv(path: Path, instrument: Instrument, rows: Sequence[AnalysisRow]) -> list[Path]:
    """Write the rows to `path` and the dictionary beside it; return both paths."""
    cols = columns(instrument)
    dates = [i for i, c in enumerate(cols) if c.type == "date"]
    context = {item.id for item in instrument.section(SectionRole.CONTEXT).items}
    texts = [i for i, c in enumerate(cols) if c.type == "text" or c.name in context]
    with open(path, "w", newline="", encoding="utf-8", opener=private_opener) as file:
        writer = csv.writer(file)
        writer.writerow([c.name for c in cols])
        # The csv module writes None as an empty cell and numbers as str() does; only the
        # dates need turning into text, and only text cells can start a formula.
        for cells in _cells(instrument, rows):
            for i in dates:
                cells[i] = _csv_text(cells[i])
            for i in texts:
                cells[i] = inert(cells[i])
            writer.writerow(cells)

    dictionary = path.with_name(f"{path.stem}-dictionary.csv")
    with open(dictionary, "w", newline="", encoding="utf-8", opener=private_opener) as file:
        writer = csv.writer(file)
        writer.writerow(["column", "type", "description", "values"])
        writer.writerows(map(inert, (c.name, c.type, c.description, c.values)) for c in cols)
    return [path, dictionary]


def write_xlsx(path: Path, instrument: Instrument, rows: Sequence[AnalysisRow]) -> list[Path]:
    """Write an XLSX workbook with an "assessments" sheet and a "dictionary" sheet."""
    from openpyxl import Workbook

    cols = columns(instrument)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "assessments"
    sheet.append([c.name for c in cols])
    for cells in table(instrument, rows):
        # openpyxl stores any text beginning with = as a live formula.
        sheet.append([inert(cells[c.name]) for c in cols])
    for column in ("D", "E"):
        for cell in sheet[column][1:]:
            cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "B2"

    dictionary = book.create_sheet("dictionary")
    dictionary.append(["column", "type", "description", "values"])
    for c in cols:
        dictionary.append([inert(v) for v in (c.name, c.type, c.description, c.values)])
    create_private(path)
    book.save(path)
    return [path]


def write(fmt: str, path: Path, instrument: Instrument, rows: Sequence[AnalysisRow]) -> list[Path]:
    """Write the export in `fmt` ("csv" or "xlsx"); return the files written."""
    writer = {"csv": write_csv, "xlsx": write_xlsx}[fmt]
    with gc_paused():
        written = writer(path, instrument, rows)
    logger.info("Exported %s assessments as %s", len(rows), fmt)
    return written


def _sections(row: AnalysisRow) -> dict[str, dict[str, Any]]:
    return {section["section_id"]: section for section in row.scores.get("sections", [])}


def _band(section: dict[str, Any]) -> str | None:
    adjustment = section.get("adjustment")
    if adjustment:
        return str(adjustment["band"])
    band = section.get("computed_band")
    return None if band is None else str(band)


def _score_names(section_id: str, domains: list[tuple[str, str]]) -> list[str]:
    """The column names `_score_cells` fills, in its order."""
    fields = ("score", "band", "computed_band", "adjusted", "incomplete", "override", "rated")
    return [f"{section_id}_{field}" for field in fields] + [column for _, column in domains]


def _score_cells(stored: dict[str, Any], domains: list[tuple[str, str]]) -> list[Cell]:
    scores = {d["name"]: d.get("score") for d in stored.get("domains", [])}
    return [
        stored.get("score"),
        _band(stored) if stored else None,
        stored.get("computed_band"),
        int(bool(stored.get("adjustment"))) if stored else None,
        int(bool(stored.get("incomplete"))) if stored else None,
        int(bool(stored.get("override_applied"))) if stored else None,
        stored.get("rated"),
        *(scores.get(domain) for domain, _ in domains),
    ]


def _domain_column(section_id: str, domain: str) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in domain.lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    return f"{section_id}_domain_{slug}"


def _context_column(item: Item) -> Column:
    values = "; ".join(f"{o.id} = {o.label}" for o in item.options)
    if item.kind is ItemKind.MULTICHOICE:
        return Column(
            item.id, "text", f"{item.label}: {item.prompt} Option ids joined by ';'.", values
        )
    if item.kind is ItemKind.NUMBER:
        return Column(item.id, "integer", f"{item.label}: {item.prompt}")
    return Column(item.id, "text", f"{item.label}: {item.prompt}", values)


def _context_cell(value: JsonValue) -> Cell:
    if isinstance(value, list):
        return ";".join(value)
    return value


def _rating(value: JsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


async def export_to(
    services: Services,
    fmt: str,
    path: Path,
    *,
    team: str | None = None,
    viewer: Staff | None = None,
) -> tuple[list[Path], int]:
    """Read the submitted assessments (audited) and write them; return the files and rows."""
    rows = await services.store.analysis_rows(viewer, purpose=f"{fmt} export", team=team)
    return write(fmt, path, services.instrument, rows), len(rows)
