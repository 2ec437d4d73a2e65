"""Answer validation: whatever a client sends for a question is a clear refusal or a valid answer."""

from __future__ import annotations

import pytest

from surveys.catalog import Catalog
from surveys.errors import SurveyError
from surveys.flow import AnswerFlow


@pytest.mark.parametrize("given", [True, False, 3, 2.5, {"deploy": True}])
def test_a_multi_answer_that_is_no_list_is_refused_with_a_clear_error(given):
    """Before: `list(True)` raised TypeError out of validation (found by the events property
    test on a forged Stop(wave, {'focus': False}))."""
    qn = Catalog().get("state-of-mlops")
    with pytest.raises(SurveyError, match="is not a list of options"):
        AnswerFlow.validate(qn, {"focus": given})
