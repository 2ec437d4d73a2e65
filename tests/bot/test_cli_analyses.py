"""`stateof summary --by | --rank` and `stateof themes` as an operator runs them: real
subprocesses, the JSON and the HTML sections, one-line errors."""

from __future__ import annotations

import json

from tests.analytics.test_crosstab import _write
from tests.analytics.test_numbers import TEAM, WAVES, write_wave
from tests.analytics.test_rankings import write_grid
from tests.bot.test_cli import stateof
from tests.bot.test_cli_data import db_env, error, ok  # noqa: F401  (db_env is a fixture)

SURVEY = "state-of-mlops"


def test_summary_by_gives_cross_tabs_in_json_and_html(tmp_path, db_env):  # noqa: F811
    _write(tmp_path / "wave.csv")
    ok(stateof("import", str(tmp_path / "wave.csv"), "--survey", SURVEY, "--wave", "2021", cwd=tmp_path,
               env=db_env))
    data = json.loads(ok(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--by", "company_size",
                                 "-q", "ml_headcount", "--format", "json", cwd=tmp_path, env=db_env)))
    (tab,) = data["analyses"]
    assert tab["kind"] == "crosstab" and tab["question"] == "ml_headcount" and tab["by"] == "company_size"
    columns = {c["group"]: c for c in tab["columns"]}
    assert columns["1000_plus"]["base"] == 45 and columns["1000_plus"]["shares"]["11_30"] == round(15 / 45, 4)
    assert "11_30" in columns["11_50"]["hidden"] and "11_30" not in columns["11_50"]["shares"]
    page = ok(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--by", "company_size",
                      "-q", "ml_headcount", "--format", "html", cwd=tmp_path, env=db_env))
    assert "<h2>Analyses</h2>" in page
    assert ('alt="Heatmap of ML team size by Company size, 2021, share of each column&#x27;s '
            'respondents.') in page
    assert "More than 1,000 (n=45): Just me 13%, 2-10 18%, 11-30 33%" in page
    error(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--by", "focus", "-q", "ml_headcount",
                  cwd=tmp_path, env=db_env), "group by a single-choice or country question")


def test_summary_rank_gives_the_ranking_and_ratio(tmp_path, db_env):  # noqa: F811
    write_grid(tmp_path / "grid.csv")
    ok(stateof("import", str(tmp_path / "grid.csv"), "--survey", SURVEY, "--wave", "2021", cwd=tmp_path,
               env=db_env))
    data = json.loads(ok(stateof("summary", "--survey", SURVEY, "--wave", "2021", "-q", "title",
                                 "--rank", "tooling:looking/established", "--format", "json",
                                 cwd=tmp_path, env=db_env)))
    (ranking,) = data["analyses"]
    assert ranking["kind"] == "ranking" and [r["row"] for r in ranking["rows"]] == [
        "model_monitoring", "feature_store", "code_repository"]
    assert ranking["rows"][0]["share"] == 0.5 and ranking["rows"][0]["ratio"]["value"] == 2.0
    page = ok(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--rank", "tooling:looking",
                      "--format", "html", cwd=tmp_path, env=db_env))
    assert 'alt="Bar chart: rows of Tooling ranked by the share answering' in page
    assert "Model monitoring 50%, Feature store 33%; hidden: Code repository." in page
    error(stateof("summary", "--survey", SURVEY, "--wave", "2021", "--rank", "title:x", cwd=tmp_path,
                  env=db_env), "rank the rows of a grid question")


def test_summary_shows_number_distributions_across_waves(tmp_path, db_env):  # noqa: F811
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "team.yaml").write_text(TEAM, encoding="utf-8")
    env = {**db_env, "STATEOF_CATALOG_DIR": str(catalog)}
    for label, values in WAVES.items():
        write_wave(tmp_path / f"{label}.csv", values)
        ok(stateof("import", str(tmp_path / f"{label}.csv"), "--survey", "team-survey", "--wave", label,
                   cwd=tmp_path, env=env))
    data = json.loads(ok(stateof("summary", "--survey", "team-survey", "--wave", "2021", "--format", "json",
                                 cwd=tmp_path, env=env)))
    (stats,) = data["analyses"]
    assert stats["kind"] == "numbers" and stats["edges"] == [0, 10, 20, 30, 40, 50]
    assert stats["waves"]["2021"]["bins"] == [0.64, None, 0.0, 0.0, None]
    assert stats["waves"]["2020"]["median"] == 4.5 and stats["mann_whitney_p"] < 0.001
    page = ok(stateof("summary", "--survey", "team-survey", "--wave", "2021", "--format", "html",
                      cwd=tmp_path, env=env))
    assert 'alt="Histogram of Experience, share of answers per bin. 2021 (n=50, median 8): 0–10 64%, ' \
           '10–20 hidden' in page
