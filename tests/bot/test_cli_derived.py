"""`stateof surveys validate` refuses a derived-field rule that tries to leave the rule language."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.test_cli import stateof

BUILTIN = Path(__file__).parents[2] / "surveys" / "catalog" / "state-of-mlops.yaml"
GOOD_RULE = "rule: models_in_production = none or recent_work has explore_data"


@pytest.mark.parametrize("rule, message", [
    ('__import__("os").system("id")', "column 1: '_' cannot appear in a rule"),
    ("role.__class__", "column 6: '_' cannot appear in a rule"),
    ("eval(role)", "column 5: expected =, !=, <, <=, >, >=, in, not in, has or is after 'eval'"),
    ("role = lead; import os", "column 12: ';' cannot appear in a rule"),
    ("(" * 40 + "role = lead" + ")" * 40, "nests at most 12 levels"),
    ("role = lead or " * 80 + "true", "at most 1000 characters"),
])
def test_validate_refuses_a_rule_outside_the_language_with_one_line(tmp_path, rule, message):
    bad = tmp_path / "bad.yaml"
    text = BUILTIN.read_text()
    assert GOOD_RULE in text
    bad.write_text(text.replace(GOOD_RULE, f"rule: '{rule}'" if '"' in rule else f'rule: "{rule}"'))
    result = stateof("surveys", "validate", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{bad}: derived[0].options[2].rule: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_validate_accepts_the_builtin_maturity_stage(tmp_path):
    result = stateof("surveys", "validate", str(BUILTIN), cwd=tmp_path)
    assert result.returncode == 0 and "state-of-mlops v2" in " ".join(result.stdout.split())
