"""Errors of the bot layer, all under the engine's one base error."""

from apart_engine.errors import ApartError

__all__ = [
    "AccessError",
    "ApartError",
    "ConfigError",
    "DatabaseTooNewError",
    "DuplicateReferenceError",
    "InvalidDateError",
    "InvalidReferenceError",
    "InvitationError",
    "StorageUnavailableError",
    "StoreError",
    "UnknownInvitationError",
]


class ConfigError(ApartError):
    """A setting is missing or malformed; the message names it and what to put there."""


class StoreError(ApartError):
    """The database cannot be used as it is."""


class StorageUnavailableError(StoreError):
    """The database cannot be written just now: the disk is full or the file is read-only."""


class DatabaseTooNewError(StoreError):
    """The database was migrated by a newer version of the bot than this one."""


class DuplicateReferenceError(ApartError):
    """Another young person already has this case reference."""


class InvalidReferenceError(ApartError):
    """A typed case reference was refused; the message says why in plain words."""


class InvalidDateError(ApartError):
    """A typed assessment date was refused; the message says why in plain words."""


class InvitationError(ApartError):
    """An invitation code cannot be used: expired, already used, or never issued."""


class UnknownInvitationError(InvitationError):
    """No invitation was ever issued with this code (or it was mistyped)."""


class AccessError(ApartError):
    """The member of staff may not do this; the message says so in plain words."""


class InvalidTeamNameError(ApartError):
    """A team name was refused; the message says why in plain words."""


class UnknownTeamError(ApartError):
    """A team named on the command line does not exist."""
