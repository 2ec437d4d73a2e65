"""Typed countries: codes, ISO names, the names people use and aliases; never a prefix guess.
The same names in every front end (Slack and Discord menus, the terminal)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bot.console import ConsoleChat
from surveys.countries import COUNTRIES, find_country, suggest_countries
from surveys.errors import PageInvalid
from surveys.flow import AnswerFlow
from surveys.schema import Questionnaire

QN = Questionnaire.model_validate({"id": "where", "title": "Where", "questions": [
    {"id": "where", "type": "country", "text": "Which country?", "required": True}]})


@pytest.mark.parametrize("typed,code", [
    ("uk", "GB"), ("UK", "GB"), ("United Kingdom", "GB"), ("Britain", "GB"), ("england", "GB"),
    ("GBR", "GB"), ("usa", "US"), ("United States of America", "US"), ("U.S.", "US"),
    ("Holland", "NL"), ("Russia", "RU"), ("Russian Federation", "RU"), ("iran", "IR"),
    ("South Korea", "KR"), ("cote d’ivoire", "CI"), ("Côte d'Ivoire", "CI"), ("Turkey", "TR"),
    ("ukraine", "UA"), ("de", "DE"), ("Germany", "DE"), ("vietnam", "VN"), ("Viet Nam", "VN"),
])
def test_typed_names_codes_and_aliases_find_the_country(typed, code):
    assert find_country(typed) == code
    assert AnswerFlow.validate(QN, {"where": typed}) == {"where": code}


def test_a_prefix_is_never_taken_for_a_country():
    assert find_country("Ger") is None and find_country("u") is None
    with pytest.raises(PageInvalid) as raised:
        AnswerFlow.validate(QN, {"where": "Ger"})
    assert "did you mean" in str(raised.value) and "Germany" in str(raised.value)
    with pytest.raises(PageInvalid) as raised:
        AnswerFlow.validate(QN, {"where": "Narnia"})
    assert "'Narnia' is not an option" in str(raised.value) and "two-letter code" in str(raised.value)
    assert [COUNTRIES[c] for c in suggest_countries("united")][:3] != []


def test_the_menus_show_the_names_people_use():
    from bot.discord.answering import _option as discord_option
    from bot.slack.modals import options_select

    choices = QN.question("where").choices
    assert len(choices) == 249
    labels = {o.id: o.label for o in choices}
    assert labels["GB"] == "United Kingdom" and labels["US"] == "United States"
    assert labels["IR"] == "Iran" and labels["RU"] == "Russia" and labels["KR"] == "South Korea"
    slack = options_select(choices, "Choose one").to_dict()
    shown = [o["text"]["text"] for group in slack["option_groups"] for o in group["options"]]
    assert "United Kingdom" in shown and "Britain (UK)" not in shown
    assert discord_option(next(o for o in choices if o.id == "GB"), False).label == "United Kingdom"


async def test_the_terminal_echoes_the_country_it_stored(services):
    services.catalog.add(QN)
    script = iter(["Narnia", "uk"])
    output = io.StringIO()
    chat = ConsoleChat(services, Console(file=output, width=120, color_system=None), lambda _p: next(script),
                       user="ada")
    outcome = await chat.run("where")
    assert outcome.completed
    wave = await chat.pick_wave("where")
    assert (await services.flow.progress(wave.id, chat.member)).value("where") == "GB"
    text = output.getvalue()
    assert "No country matches 'Narnia'" in text and "→ United Kingdom" in text
