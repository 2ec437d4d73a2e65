"""`stateof import`, `stateof summary`, `stateof export`: the data commands of the CLI.

Errors a user can fix are one line on stderr and exit 1 (an invalid CSV lists every
problem with row and column); an unreachable database or a bad setting exits 2. Output
meant for pipes (summary JSON/Markdown, CSV export without --out) goes to stdout alone.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.cli_support import err, fail, fail_with_problems, out, run_with_services, settings_or_exit

log = logging.getLogger(__name__)

T = TypeVar("T")


class SummaryFormat(StrEnum):
    """`summary --format`: checked by the command line before any work, listed in --help."""

    json = "json"
    md = "md"
    html = "html"


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class Platform(StrEnum):
    slack = "slack"
    discord = "discord"
    console = "console"


SUMMARY_FORMATS = tuple(f.value for f in SummaryFormat)
EXPORT_FORMATS = tuple(f.value for f in ExportFormat)
PARQUET_MISSING = "Parquet export needs pyarrow: install stateof[parquet] (pip install 'stateof[parquet]')"

Survey = Annotated[str, typer.Option("--survey", help="Questionnaire id, e.g. state-of-mlops.")]
WaveLabel = Annotated[str, typer.Option("--wave", help="Wave label, e.g. 2021.")]
CommunityOpt = Annotated[
    str | None,
    typer.Option("--community", help="Community slug (default: STATEOF_COMMUNITY or 'default')."),
]


_fail = fail


def parse_where(items: list[str] | None) -> dict[str, list[str]]:
    """`["role=models,infra", "region=europe"]` → {"role": [...], "region": [...]}; several
    filters on one question are merged (any of), filters on different questions all apply."""
    where: dict[str, list[str]] = {}
    for item in items or []:
        question, sep, options = item.partition("=")
        chosen = [o.strip() for o in options.split(",") if o.strip()]
        if not sep or not question.strip() or not chosen:
            raise _fail(f"'{item}' is not a filter; use --where QUESTION=OPTION[,OPTION]")
        where.setdefault(question.strip(), []).extend(chosen)
    return where


class _Context:
    """Settings (quiet logging: output is for pipes) and services for one command."""

    def settings(self) -> Any:
        return settings_or_exit(quiet=True)

    @staticmethod
    def run(
        settings: Any, work: Callable[[Any], Awaitable[T]], passthrough: tuple[type[Exception], ...] = (),
        *, migrate: bool = True,
    ) -> T:
        return run_with_services(settings, work, passthrough, migrate=migrate)


async def _community_id(services: Any, slug: str | None, *, create: bool) -> int:
    """The id of the named (or configured default) community."""
    from sqlalchemy import select

    from surveys.errors import SurveyError
    from surveys.models import Community
    from surveys.waves import ensure_community

    name = slug or services.settings.community
    async with services.db.session() as session:
        if create:
            return (await ensure_community(session, name, timezone=services.settings.timezone)).id
        found = (await session.execute(select(Community.id).where(Community.slug == name))
                 ).scalar_one_or_none()
    if found is None:
        raise SurveyError(f"unknown community '{name}'; nothing has been imported or answered "
                          "there yet (see --community)")
    return int(found)


def _questionnaire(services: Any, survey: str) -> Any:
    try:
        return services.catalog.get(survey)
    except KeyError as exc:
        raise _fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add `import`, `summary` and `export` to the `stateof` CLI."""
    ctx = _Context()

    @app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="CSV: one row per respondent, header = "
                                              "question ids, grid rows as QUESTION.ROW.")],
        survey: Survey,
        wave: WaveLabel,
        replace: Annotated[bool, typer.Option("--replace", help="Replace a wave imported "
                                              "before (otherwise importing it twice is refused).")] = False,
        community: CommunityOpt = None,
    ) -> None:
        """Import a past wave from a CSV export; nothing is imported if any row is invalid."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from surveys.importer import ImportInvalid, import_csv

        settings = ctx.settings()
        if not file.is_file():
            raise _fail(f"{file}: no such file")

        async def work(services: Any) -> Any:
            qn = _questionnaire(services, survey)
            community_id = await _community_id(services, community, create=True)
            with Progress(TextColumn("[bold]importing[/]"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err, transient=True) as bar:
                task = bar.add_task("import", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                return await import_csv(services.db, community_id=community_id, questionnaire=qn,
                                        wave_label=wave, path=file, replace=replace,
                                        progress=progress)

        try:
            result = ctx.run(settings, work, (ImportInvalid,))
        except ImportInvalid as exc:
            raise fail_with_problems(exc, exc.problems, exc.more) from None
        verb = "Replaced" if result.replaced else "Imported"
        out.print(f"{verb} wave {result.label} of {result.survey_id}: {result.respondents} "
                  f"respondents, {result.answers} answers.", highlight=False, markup=False)

    @app.command("import-reference")
    def import_reference(
        file: Annotated[Path, typer.Argument(help="YAML (source, base, figures) or CSV "
                                              "(question,option,share) of a report's published shares.")],
        survey: Survey,
        label: Annotated[str, typer.Option("--label", help='Its label in summaries, e.g. "Valohai 2021".')],
        base: Annotated[int | None, typer.Option(
            "--base", help="Respondents the shares are of (CSV; leave out when unpublished).")] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Replace a reference wave imported "
                                              "before with this label.")] = False,
        community: CommunityOpt = None,
    ) -> None:
        """Import a report's published figures, to compare waves with (`summary --compare LABEL`)."""
        from surveys.reference import ReferenceError, check, read_csv, read_yaml, store_reference

        settings = ctx.settings()
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"{file}: cannot read the file ({getattr(exc, 'strerror', None) or exc})") from None

        async def work(services: Any) -> Any:
            qn = _questionnaire(services, survey)
            if file.suffix.lower() == ".csv":
                figures = read_csv(text, str(file), base)
            else:
                figures = read_yaml(text, str(file))
                if base is not None:
                    raise ReferenceError(str(file), ["--base is for CSV files; a YAML file gives its base"])
            shares = check(figures, qn, str(file))
            community_id = await _community_id(services, community, create=True)
            async with services.db.session() as session:
                await store_reference(session, community_id=community_id, qn=qn, label=label,
                                      figures=figures, shares=shares, replace=replace)
            return figures, shares

        try:
            figures, shares = ctx.run(settings, work, (ReferenceError,))
        except ReferenceError as exc:
            err.print(f"[red]error:[/] {exc.args[0].split(':', 1)[0]}: {len(exc.problems)} problem(s); "
                      "nothing was imported", highlight=False, soft_wrap=True)
            for problem in exc.problems[:50]:
                err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        based = f"base {figures.base:,}" if figures.base else "base not published: shown, not tested"
        out.print(f"Imported reference wave {label} of {survey}: {len(shares)} published shares ({based}). "
                  f'Compare with it: stateof summary --survey {survey} --wave WAVE --compare "{label}"',
                  highlight=False, markup=False, soft_wrap=True)

    @app.command("summary")
    def summary(
        survey: Survey,
        wave: WaveLabel,
        compare: Annotated[list[str] | None, typer.Option(
            "--compare", help="Wave to compare with (repeat; default: the two previous waves).")] = None,
        no_compare: Annotated[bool, typer.Option("--no-compare", help="Compare with no wave.")] = False,
        where: Annotated[list[str] | None, typer.Option(
            "--where", help="Segment QUESTION=OPTION[,OPTION] (repeat: all must match).")] = None,
        platform: Annotated[Platform | None, typer.Option(
            "--platform", help="Only members who answered on this platform.")] = None,
        fmt: Annotated[SummaryFormat, typer.Option(
            "--format", help="Markdown, JSON, or HTML (one self-contained page with the charts).")
        ] = SummaryFormat.md,
        out_dir: Annotated[Path | None, typer.Option(
            "--out", help="Folder for summary.md|json and its PNG charts, or one summary.html "
                          "(default: print).")] = None,
        question: Annotated[list[str] | None, typer.Option(
            "--question", "-q", help="Only this question (repeat); with --by, the questions cross-tabbed.")
        ] = None,
        by: Annotated[str | None, typer.Option(
            "--by", help="Cross-tab: one column per answer to this single-choice question.")] = None,
        rank: Annotated[list[str] | None, typer.Option(
            "--rank", help="Rank a grid's rows by a point, GRID:POINT, or GRID:POINT/POINT for the "
                           "ratio of two points per row (repeat).")] = None,
        community: CommunityOpt = None,
    ) -> None:
        """The summary of a wave compared with earlier waves (JSON, Markdown or HTML)."""
        kind = SummaryFormat(fmt).value
        segment = parse_where(where)
        settings = ctx.settings()

        async def work(services: Any) -> Any:
            from analytics.service import build_summary, previous_labels

            _questionnaire(services, survey)
            community_id = await _community_id(services, community, create=False)
            labels = list(compare or [])
            if not labels and not no_compare:
                labels = await previous_labels(services.db, community_id=community_id,
                                               survey_id=survey, wave=wave)
            from analytics.sections import add_number_stats, add_rankings, rank_questions

            wanted = list(dict.fromkeys([*question, *rank_questions(rank or [])])) if question else None
            summary = await build_summary(
                services.db, community_id=community_id, survey_id=survey, wave=wave,
                compare=labels, where=segment or None,
                platform=Platform(platform).value if platform else None,
                min_group_size=settings.min_group_size, questions=wanted,
            )
            add_rankings(summary, rank or [])
            await add_number_stats(services.db, summary, community_id=community_id)
            from analytics.themes import themes_sections

            summary.analyses += themes_sections(summary)
            if by:
                from analytics.sections import add_crosstabs

                await add_crosstabs(services.db, summary, community_id=community_id, by=by,
                                    questions=question or None)
            return summary

        result = ctx.run(settings, work, migrate=False)
        if out_dir is None:
            from analytics.report import to_json, to_markdown

            if kind == "html":
                from analytics.html import html_report

                text = html_report(result)
            else:
                text = to_json(result) if kind == "json" else to_markdown(result)
            sys.stdout.write(text.rstrip("\n") + "\n")
            return
        from analytics.output import write_summary

        try:
            files = write_summary(result, out_dir, kind)
        except OSError as exc:
            raise _fail(f"cannot write to {out_dir}: {exc.strerror}") from None
        err.print(f"Wrote {len(files)} file(s) to {out_dir}:", highlight=False, markup=False)
        for path in files:
            out.print(f"  {path}", highlight=False, markup=False)

    @app.command("export")
    def export(
        survey: Survey,
        wave: WaveLabel,
        fmt: Annotated[ExportFormat, typer.Option(
            "--format", help="CSV, or Parquet (needs stateof[parquet]).")] = ExportFormat.csv,
        open_data: Annotated[bool, typer.Option(
            "--open-data", help="Public release: no free text, small groups merged.")] = False,
        out_file: Annotated[Path | None, typer.Option(
            "--out", help="File to write (default: CSV to stdout, parquet to SURVEY-WAVE.parquet).")
        ] = None,
        community: CommunityOpt = None,
    ) -> None:
        """Answers per pseudonymous respondent in the import format (no platform user ids)."""
        kind = ExportFormat(fmt).value
        if kind == "parquet" and importlib.util.find_spec("pyarrow") is None:
            raise _fail(PARQUET_MISSING)
        settings = ctx.settings()

        generalised: list[str] = []

        async def work(services: Any) -> bytes:
            from rich.markup import escape
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            from analytics.export import export_wave

            _questionnaire(services, survey)
            community_id = await _community_id(services, community, create=False)
            with Progress(SpinnerColumn(), TextColumn("[bold]exporting[/] {task.description}"),
                          TimeElapsedColumn(), console=err, transient=True) as bar:
                bar.add_task(escape(f"{survey} {wave} as {kind}"), total=None)
                bar.refresh()
                return await export_wave(
                    services.db, community_id=community_id, survey_id=survey, wave=wave, fmt=kind,
                    open_data=open_data, min_group_size=settings.min_group_size, generalised=generalised,
                )

        data = ctx.run(settings, work, migrate=False)
        if open_data:  # what k-anonymity changed: on stderr, and next to the file as a sidecar
            note = [f"Open data, k = {settings.min_group_size}: "
                    + ("generalised for k-anonymity:" if generalised else "nothing needed generalising."),
                    *(f"  {line}" for line in generalised)]
            for line in note:
                err.print(line, highlight=False, markup=False)
        target = out_file
        if target is None and kind == "parquet":
            target = Path(f"{survey}-{wave}{'-open' if open_data else ''}.parquet")
        if target is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        try:
            target.write_bytes(data)
            if open_data:
                sidecar = target.with_name(target.name + ".generalised.txt")
                sidecar.write_text("\n".join(note) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {target}: {exc.strerror}") from None
        err.print(f"Wrote {target} ({len(data):,} bytes).", highlight=False, markup=False)
