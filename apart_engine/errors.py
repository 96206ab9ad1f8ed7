"""The project's errors: one base class and the engine's specific failures."""


class ApartError(Exception):
    """Base class for every error the project raises on purpose."""


class InstrumentError(ApartError):
    """An instrument file is missing, unreadable or inconsistent."""


class InvalidRatingError(ApartError):
    """A rating lies outside its section's scale."""


class InvalidAdjustmentError(ApartError):
    """A practitioner's band adjustment is not allowed or has too short a reason."""
