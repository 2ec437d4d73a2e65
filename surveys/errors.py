"""Typed errors with a human message; chat adapters show `str(error)` to the member."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class SurveyError(Exception):
    """Base class: something a user did that the survey cannot accept. Nothing was changed."""


class InvalidAnswer(SurveyError):
    """An answer that does not fit its question; `field` is `question` or `question.row`."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


class UnknownOption(InvalidAnswer):
    """An answer names an option the question does not have."""


class TooManyChoices(InvalidAnswer):
    """More options chosen than `max_choices` allows."""


class OutOfRange(InvalidAnswer):
    """A number outside the question's min/max (or not a number)."""


class TextTooLong(InvalidAnswer):
    """Free text longer than the question's `max_length`."""


class MissingAnswer(InvalidAnswer):
    """A required question left blank."""


class PageInvalid(SurveyError):
    """Several invalid answers on one page; `errors` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


class WaveNotOpen(SurveyError):
    """The wave is scheduled or closed: answers are not accepted."""


class UnknownWave(SurveyError):
    """No wave with that label (or id) in this community."""


class UnknownSurvey(SurveyError, KeyError):
    """No questionnaire with that id in the catalog (a KeyError too, as a lookup miss)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownQuestion(SurveyError):
    """No question with that id in the questionnaire."""


class WaveExists(SurveyError):
    """A wave with that label already exists for the survey."""
