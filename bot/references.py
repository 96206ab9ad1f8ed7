"""Case references: suggested codes, and refusal of anything that looks like personal data."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from bot.errors import InvalidReferenceError

MAX_LENGTH = 20

# Letters that cannot be misread for one another on a phone screen.
_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE_DIGITS = "23456789"

_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_-]*$")
_EMAIL = re.compile(r"@")
_PHONE = re.compile(r"(\+?\d[\s-]?){9,}")
# A month's name or its usual short form, not the start of another word ("market").
_MONTH = (
    r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sept?(ember)?"
    r"|oct(ober)?|nov(ember)?|dec(ember)?)(?![a-z])\.?"
)
_DATE = re.compile(
    r"(\b\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b)|(\b\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}\b)"
    # 3 March, 3rd of March, 12Mar2011; then March 3, Mar 3rd, March 3 2010.
    rf"|(\b\d{{1,2}}(st|nd|rd|th)?(\s+of)?[\s-]*{_MONTH})"
    rf"|(\b{_MONTH}[\s-]*\d{{1,2}}(st|nd|rd|th)?(?!\d))",
    re.IGNORECASE,
)
_DIGIT_RUN = re.compile(r"\d+")
# Runs of digits that read as a date: 120311, 12032011, 20110312.
_RUN_DATE_FORMATS = {6: ("%d%m%y",), 8: ("%d%m%Y", "%Y%m%d")}
# A UK postcode once separators are taken out (SW1A1AA, M11AE), anywhere in a reference.
_POSTCODE_RUN = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", re.IGNORECASE)
_SEPARATORS = re.compile(r"[-/_\s]+")


def suggest_reference() -> str:
    """A fresh random code such as YP-7KQ3 that carries no meaning."""
    letters = "".join(secrets.choice(_CODE_LETTERS) for _ in range(2))
    digits = "".join(secrets.choice(_CODE_DIGITS) for _ in range(2))
    return f"YP-{letters[0]}{digits[0]}{letters[1]}{digits[1]}"


def check_reference(text: str) -> str:
    """The reference, tidied; InvalidReferenceError says why when it could identify someone."""
    reference = text.strip()

    if not reference:
        raise InvalidReferenceError("A reference cannot be empty. Type a code such as YP-A1.")
    if len(reference) > MAX_LENGTH:
        raise InvalidReferenceError(
            f"That is too long for a reference: use at most {MAX_LENGTH} characters."
        )
    if _EMAIL.search(reference):
        raise InvalidReferenceError(
            "That looks like an email address. Use a code, not contact details."
        )
    if _DATE.search(reference) or _has_date_run(reference):
        raise InvalidReferenceError(
            "That looks like a date. Dates of birth must never be used in a reference."
        )
    if _PHONE.search(reference):
        raise InvalidReferenceError(
            "That looks like a phone number. Use a code, not contact details."
        )
    if _POSTCODE_RUN.search(_SEPARATORS.sub("", reference)):
        raise InvalidReferenceError("That looks like a postcode. Addresses are never stored.")
    if " " in reference or not _ALLOWED.match(reference):
        raise InvalidReferenceError(
            "Use only letters, digits and - / _ with no spaces, such as YP-A1 or CSE/2041."
        )
    if not any(char.isdigit() for char in reference):
        raise InvalidReferenceError(
            "That could be a name or initials. A reference needs at least one digit, "
            "such as YP-A1."
        )
    if not any(char.isalpha() for char in reference):
        raise InvalidReferenceError(
            "A reference made only of digits could be a date or a phone number. Add a letter, "
            "such as YP-2041."
        )
    return reference


def _has_date_run(text: str) -> bool:
    """Whether a run of digits in `text` is a plausible date written without separators."""
    for run in _DIGIT_RUN.findall(text):
        for form in _RUN_DATE_FORMATS.get(len(run), ()):
            try:
                # Only the calendar day matters; UTC makes the datetime explicit, not naive.
                day = datetime.strptime(run, form).replace(tzinfo=UTC)
            except ValueError:
                continue
            if 1900 <= day.year <= 2100:
                return True
    return False


_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_POSTCODE_IN_TEXT = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)


def personal_data_in(text: str) -> list[str]:
    """What in a free-text note looks like contact details or a date of birth, in words."""
    found = []
    if _PHONE.search(text):
        found.append("a phone number")
    if _EMAIL_IN_TEXT.search(text):
        found.append("an email address")
    if _POSTCODE_IN_TEXT.search(text):
        found.append("a postcode")
    if _DATE.search(text) or _has_date_run(text):
        found.append("a date (a date of birth?)")
    return found
