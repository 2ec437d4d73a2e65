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
    pass


class TooManyChoices(InvalidAnswer):
    pass


class OutOfRange(InvalidAnswer):
    pass


class TextTooLong(InvalidAnswer):
    pass


class MissingAnswer(InvalidAnswer):
    pass


class PageInvalid(SurveyError):
    """Several invalid answers on one page; `errors` maps field → message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


class WaveNotOpen(SurveyError):
    pass


class UnknownWave(SurveyError):
    pass


class UnknownSurvey(SurveyError):
    pass


class UnknownQuestion(SurveyError):
    pass


class WaveExists(SurveyError):
    pass
