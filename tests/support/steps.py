"""Turn a vignette's assessment into the inputs a practitioner would give the bot."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from apart_engine.instrument import AssessmentKind, Instrument, ItemKind, SectionRole

if TYPE_CHECKING:
    from bot.harness import ChatClient

# Background items the vignettes leave out, and the answer a practitioner would tap.
FILL_INS = {"disability": "not known", "plan": "none"}


def assessment_steps(
    instrument: Instrument,
    vignette: dict[str, Any],
    index: int,
    *,
    register: bool,
) -> list[str]:
    """The chat inputs for assessment `index` of a vignette: [label] taps, anything else typed."""
    assessment = vignette["assessments"][index]
    kind = AssessmentKind(assessment["kind"])
    reference = vignette["reference"]
    steps: list[str] = []
    if register:
        steps += ["/new", reference, "[Start the baseline]"]
    else:
        steps += ["/assess", f"[{reference} ·]", f"[{kind.value.capitalize()}]"]
    day = date.fromisoformat(assessment["date"])
    steps.append(day.strftime("%d/%m/%Y"))

    background = {**vignette["background"], "events": assessment.get("events", [])}
    for item in instrument.items_for(kind):
        role = instrument.section_of(item.id).role
        if role is SectionRole.CONTEXT:
            steps += _context_steps(item.id, item.kind, background, kind, item.optional)
            continue
        note = assessment.get("notes", {}).get(item.id)
        if note:
            steps += ["[Add note]", note]
        value = assessment["answers"][item.id]
        steps.append("[Unknown]" if value is None else f"[{value} ·]")
    steps += ["[Submit]", "[Yes, submit]"]
    return steps


def _context_steps(
    item_id: str,
    kind: ItemKind,
    background: dict[str, Any],
    occasion: AssessmentKind,
    optional: bool,
) -> list[str]:
    if occasion is not AssessmentKind.BASELINE and item_id != "events":
        return ["[Unchanged]"]
    value = background.get(item_id, FILL_INS.get(item_id))
    if value is None:
        return ["[Skip]"] if optional else []
    if kind is ItemKind.MULTICHOICE:
        return [f"[☐ {label}]" for label in value] + ["[Done]"]
    return [f"[{value}]"]


async def play(client: ChatClient, steps: list[str]) -> None:
    """Give the bot each input in turn: [label] taps a button, anything else is typed."""
    for step in steps:
        if step.startswith("[") and step.endswith("]"):
            answer = await client.tap(step[1:-1])
            assert answer.answered, f"the bot left the tap on {step} unanswered"
        else:
            await client.send(step)


async def play_until(client: ChatClient, steps: list[str], shown: str) -> list[str]:
    """Play steps until the bot's newest message contains `shown`; return the steps left."""
    for index, step in enumerate(steps):
        if client.bot_messages and shown in (client.last_bot_message.text or ""):
            return steps[index:]
        await play(client, [step])
    raise AssertionError(f"the bot never showed {shown!r}")
