"""The terminal chat: answer a questionnaire with Rich prompts through the same answer flow.

Every answer is saved as soon as it is given; quitting (`q`, Ctrl-D) and starting again
resumes at the first question not yet answered; answering again replaces.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from bot.services import Services
from surveys.errors import PageInvalid, WaveNotOpen
from surveys.flow import Progress
from surveys.identity import Member
from surveys.models import Wave, WaveStatus
from surveys.schema import Option, Question, QuestionType
from surveys.validation import field_key, find_option
from surveys.waves import create_wave, ensure_community, find_wave, open_waves, questionnaire_of

log = logging.getLogger(__name__)

PREVIEW_COMMUNITY = "console-preview"
PREVIEW_LABEL = "preview"
QUIT_WORDS = {"q", "quit", ":q", "exit"}


class QuitChat(Exception):
    """The person asked to stop; their answers so far are saved."""


class KeepAnswer(Exception):
    """Reviewing: Enter keeps the answer already given."""


@dataclass
class ChatOutcome:
    wave_label: str
    answered: int
    completed: bool


def _default_ask(console: Console) -> Callable[[str], str]:
    def ask(prompt: str) -> str:
        try:
            return console.input(prompt)
        except EOFError:
            raise QuitChat from None
    return ask


class ConsoleChat:
    """Asks the questions of one wave in the terminal, one at a time."""

    def __init__(
        self, services: Services, console: Console | None = None,
        ask: Callable[[str], str] | None = None, user: str | None = None,
    ):
        self.services = services
        self.console = console or Console()
        self.ask = ask or _default_ask(self.console)
        self.member = Member("console", "local", user or getpass.getuser())
        self.reviewing = False

    async def pick_wave(self, survey_id: str) -> Wave:
        """An open wave of the survey in the community, else a separate preview wave."""
        qn = self.services.catalog.get(survey_id)
        community = await self.services.community_for("console", "local")
        async with self.services.db.session() as session:
            for wave in await open_waves(session, community.id):
                if wave.survey_id == qn.id:
                    return wave
            preview = await ensure_community(session, PREVIEW_COMMUNITY, "Terminal preview")
            wave = await find_wave(session, preview.id, qn.id, PREVIEW_LABEL)
            if wave is None:
                wave = await create_wave(session, preview, qn, PREVIEW_LABEL, status=WaveStatus.open)
            return wave

    async def run(self, survey_id: str) -> ChatOutcome:
        wave = await self.pick_wave(survey_id)
        qn = questionnaire_of(wave)
        progress = await self.services.flow.start(wave.id, self.member)
        done, total = progress.position
        finished = progress.next_question() is None
        intro = escape(qn.description or qn.title)
        if done and not finished:
            intro += f"\n\n[bold]Welcome back[/bold]: resuming at question {done + 1} of {total}."
        self.console.print(Panel(intro, title=f"{escape(qn.title)} {escape(wave.label)}",
                                 subtitle="q to stop; your answers are saved as you go"))
        try:
            if finished and progress.answers:
                progress = await self._review(wave, progress)
            while (question := progress.next_question()) is not None:
                progress = await self._ask_question(wave, question, progress)
        except _Done:
            self.console.print("Your answers stay as they are. Thank you!")
            return ChatOutcome(wave.label, progress.answered_count, progress.completed)
        except QuitChat:
            self.console.print("[yellow]Stopped. Your answers are saved; run the chat again to resume.[/]")
            return ChatOutcome(wave.label, progress.answered_count, progress.completed)
        except WaveNotOpen as exc:
            self.console.print(f"[yellow]{escape(str(exc))}[/] Your earlier answers are kept.")
            return ChatOutcome(wave.label, progress.answered_count, progress.completed)
        self.console.print("[green]Thank you! Your answers are complete.[/] "
                           "Run the chat again to change them while the wave is open.")
        return ChatOutcome(wave.label, progress.answered_count, True)

    async def _review(self, wave: Wave, progress: Progress) -> Progress:
        """Everything is answered: offer to go through the answers again (Enter keeps one)."""
        self.console.print("You have answered every question.")
        reply = self.ask("Change your answers? [y/N]> ").strip().lower()
        if reply in QUIT_WORDS or not reply.startswith("y"):
            raise QuitChat if reply in QUIT_WORDS else _Done()
        self.reviewing = True
        try:
            order = [q.id for q in questionnaire_of(wave).questions]
            position = 0
            while position < len(order):
                visible = {q.id: q for q in progress.visible()}
                q = visible.get(order[position])
                if q is not None:
                    progress = await self._ask_question(wave, q, progress)
                position += 1
        finally:
            self.reviewing = False
        return progress

    async def _ask_question(self, wave: Wave, q: Question, progress: Progress) -> Progress:
        done, total = progress.position
        self.console.print(f"\n[bold cyan]{done + 1}/{total}[/] [bold]{escape(q.text)}[/]")
        if q.help:
            self.console.print(f"[dim]{escape(q.help)}[/]")
        if q.type is QuestionType.grid:
            rows = [r.id for r in q.rows] if self.reviewing else progress.pending_rows(q)
            for row_id in rows:
                row = q.row(row_id)
                assert row is not None
                self._show_current(progress, q, row_id)
                progress = await self._ask_until_valid(
                    wave, q, field_key(q.id, row_id), lambda r=row: self._read_grid_row(q, r), progress
                )
            return progress
        self._show_current(progress, q)
        return await self._ask_until_valid(wave, q, q.id, lambda: self._read(q), progress)

    def _show_current(self, progress: Progress, q: Question, row_id: str = "") -> None:
        if self.reviewing and progress.has(q.id, row_id):
            shown = describe(q, progress.value(q.id, row_id), row_id)
            self.console.print(f"  [dim]Your answer: {escape(shown)} (Enter keeps it"
                               f"{'' if q.required else ', - clears it'})[/]")

    async def _ask_until_valid(self, wave: Wave, q: Question, key: str, read, progress: Progress) -> Progress:
        while True:
            try:
                raw = read()
            except KeepAnswer:
                return progress
            try:
                result = await self.services.flow.submit(wave.id, self.member, {key: raw})
                return result.progress
            except PageInvalid as exc:
                for message in exc.errors.values():
                    self.console.print(f"[red]{escape(message)}[/]")

    def _prompt(self, q: Question, hint: str) -> str:
        suffix = "" if q.required or self.reviewing else " (Enter to skip)"
        answer = self.ask(f"{hint}{suffix}> ").strip()
        if answer.lower() in QUIT_WORDS:
            raise QuitChat
        if self.reviewing:
            if not answer:
                raise KeepAnswer
            if answer == "-" and not q.required:
                return ""
        return answer

    def _show_options(self, options: list[Option]) -> None:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for i, opt in enumerate(options, 1):
            table.add_row(f"[bold]{i}[/]", escape(opt.label))
        self.console.print(table)

    @staticmethod
    def _pick(options: list[Option], word: str) -> str:
        if word.isdigit() and 1 <= int(word) <= len(options):
            return options[int(word) - 1].id
        return word

    def _read(self, q: Question) -> object:
        match q.type:
            case QuestionType.single:
                self._show_options(q.choices)
                return self._pick(q.choices, self._prompt(q, "Number or name"))
            case QuestionType.multi:
                self._show_options(q.choices)
                limit = f"up to {q.max_choices}, " if q.max_choices else ""
                raw = self._prompt(q, f"Numbers ({limit}comma-separated)")
                return [self._pick(q.choices, w.strip()) for w in raw.split(",") if w.strip()]
            case QuestionType.country:
                return self._read_country(q)
            case QuestionType.number:
                return self._prompt(q, _range_hint(q))
            case _:
                return self._prompt(q, f"Your answer (up to {q.max_length} characters)")

    def _read_country(self, q: Question) -> str:
        while True:
            word = self._prompt(q, "Country name or code")
            if not word or find_option(q.choices, word):
                return word
            matches = [o for o in q.choices if o.label.casefold().startswith(word.casefold())]
            if len(matches) == 1:
                return matches[0].id
            if matches:
                names = ", ".join(o.label for o in matches[:10])
                self.console.print(f"Did you mean: {escape(names)}?")
            else:
                self.console.print(f"[red]No country matches '{escape(word)}'.[/]")

    def _read_grid_row(self, q: Question, row: Option) -> str:
        self.console.print(f"  [bold]{escape(row.label)}[/]")
        self._show_options(q.scale)
        return self._pick(q.scale, self._prompt(q, "  Number"))


class _Done(QuitChat):
    """Nothing to change after all."""


def describe(q: Question, value: object, row_id: str = "") -> str:
    """An answer as the person would say it: labels, not ids."""
    if value is None or value == "" or value == []:
        return "skipped"
    options = q.scale if q.type is QuestionType.grid else q.choices
    labels = {o.id: o.label for o in options}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if q.type is QuestionType.number and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return labels.get(str(value), str(value))


def _range_hint(q: Question) -> str:
    if q.min is not None and q.max is not None:
        return f"A number from {q.min:g} to {q.max:g}"
    return "A number"
