"""`stateof themes export | import`: code a closed wave's free-text answers into themes that
then behave as a multi-choice question (analytics.themes)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli_data import CommunityOpt, Survey, WaveLabel, _community_id, _Context, _questionnaire
from bot.cli_support import err, fail, fail_with_problems, out

log = logging.getLogger(__name__)

Question = Annotated[str, typer.Option("--question", help="The free-text question, e.g. biggest_challenge.")]


def register(app: typer.Typer) -> None:
    """Add `themes export` and `themes import` to the `stateof` CLI."""
    themes = typer.Typer(help="Code free-text answers into themes (a multi-choice question).",
                         no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(themes, name="themes")
    ctx = _Context()

    @themes.command("export")
    def export(
        survey: Survey, wave: WaveLabel, question: Question,
        out_file: Annotated[Path | None, typer.Option(
            "--out", help="CSV to write (default: stdout).")] = None,
        community: CommunityOpt = None,
    ) -> None:
        """The wave's texts for coding: one row per distinct text, shuffled, no ids."""
        settings = ctx.settings()

        async def work(services: Any) -> bytes:
            from analytics.themes import export_texts

            _questionnaire(services, survey)
            community_id = await _community_id(services, community, create=False)
            return await export_texts(services.db, community_id=community_id, survey_id=survey, wave=wave,
                                      question=question)

        data = ctx.run(settings, work, migrate=False)
        if out_file is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        try:
            out_file.write_bytes(data)
        except OSError as exc:
            raise fail(f"cannot write {out_file}: {exc.strerror}") from None
        err.print(f"Wrote {out_file}: fill in the themes column (names separated by ';') and run "
                  "`stateof themes import`.", highlight=False, markup=False)

    @themes.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(
            help="The coding: the export with its themes column filled in.")],
        survey: Survey, wave: WaveLabel, question: Question,
        replace: Annotated[bool, typer.Option("--replace", help="Swap an earlier coding.")] = False,
        community: CommunityOpt = None,
    ) -> None:
        """Read a coding (answer → themes); the themes become the question QUESTION_themes."""
        from analytics.themes import ThemesInvalid, import_coding

        try:
            data = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise fail(f"{file}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"{file}: cannot read it as UTF-8 text ({exc})") from None
        settings = ctx.settings()

        async def work(services: Any) -> Any:
            _questionnaire(services, survey)
            community_id = await _community_id(services, community, create=False)
            return await import_coding(services.db, community_id=community_id, survey_id=survey, wave=wave,
                                       question=question, data=data, source=str(file), replace=replace)

        try:
            result = ctx.run(settings, work, (ThemesInvalid,))
        except ThemesInvalid as exc:
            raise fail_with_problems(exc, exc.problems, exc.more) from None
        out.print(f"Coded {result.coded} answer(s) into {len(result.themes)} theme(s) as the question "
                  f"'{result.question}' ({result.uncoded} answer(s) without a theme). It now shows in "
                  "summaries, --where, --by and chat like a multi-choice question.",
                  highlight=False, markup=False)
