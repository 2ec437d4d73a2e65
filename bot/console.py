"""The terminal chat: the answering conversation rendered with Rich prompts.

Every answer is saved as soon as it is given; quitting (`q`, Ctrl-D) and starting again
resumes at the first question not yet answered; answering again replaces. After the last
question the chat offers to go through the answers again (Enter keeps one).
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.answering.conversation import Conversation, Picked, first_open, one_at_a_time
from bot.answering.events import Pick, Stop
from bot.answering.screens import (
    COMPLETED_NOTICE,
    RESUMED_NOTICE,
    Field,
    Notice,
    PageScreen,
    Screen,
    Thanks,
    answer_text,
)
from bot.services import Services
from surveys.countries import COUNTRIES, find_country, suggest_countries
from surveys.identity import Member
from surveys.models import Wave, WaveStatus
from surveys.schema import Option, QuestionType
from surveys.validation import find_option
from surveys.waves import create_wave, ensure_community, find_wave, open_waves, questionnaire_of

log = logging.getLogger(__name__)

PREVIEW_COMMUNITY = "console-preview"
PREVIEW_LABEL = "preview"
QUIT_WORDS = {"q", "quit", ":q", "exit"}
KEEP = object()  # an answered question: Enter keeps the answer already given
BACK_WORDS = {"<", ":back"}
PREVIEW_NOTE = ("[yellow]Preview:[/] no wave of this survey is open, so these answers go to a practice "
                "wave and count in no results. To answer a real wave, open one and run "
                "[bold]stateof chat --survey {survey} --wave LABEL[/].")


class QuitChat(Exception):
    """The person asked to stop; their answers so far are saved."""


class _Done(QuitChat):
    """Nothing to change after all."""


class _Back(Exception):
    """The person asked for the previous question."""


@dataclass
class ChatOutcome:
    wave_label: str
    answered: int
    completed: bool


def _default_ask(console: Console) -> Callable[[str], str]:
    def ask(prompt: str) -> str:
        try:
            return console.input(Text(prompt))  # plain text: "[y/N]" is not markup
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
        # the preview wave lives in a community of its own: no community check here
        self.conversation = Conversation(services, "console", one_at_a_time, double_click=0,
                                         check_community=False)
        self.reviewing = False
        self._asked = ""  # the question whose heading was printed last

    async def pick_wave(self, survey_id: str, label: str | None = None) -> Wave:
        """The open wave `label` of the survey in the community (KeyError when there is none);
        without a label its open wave, else a separate preview wave."""
        qn = self.services.catalog.get(survey_id)
        community = await self.services.community_for("console", "local")
        async with self.services.db.session() as session:
            for wave in await open_waves(session, community.id):
                if wave.survey_id == qn.id and label in (None, wave.label):
                    return wave
            if label is not None:
                raise KeyError(f"no open wave '{label}' of {survey_id} (open ones: stateof waves list)")
            preview = await ensure_community(session, PREVIEW_COMMUNITY, "Terminal preview")
            found = await find_wave(session, preview.id, qn.id, PREVIEW_LABEL)
            if found is None:
                found = await create_wave(session, preview, qn, PREVIEW_LABEL, status=WaveStatus.open)
            return found

    async def run(self, survey_id: str, wave_label: str | None = None) -> ChatOutcome:
        wave = await self.pick_wave(survey_id, wave_label)
        qn = questionnaire_of(wave)
        screen = await self.conversation.take(self.member, wave.id)
        if not isinstance(screen, PageScreen):
            self.console.print(f"[yellow]{escape(getattr(screen, 'text', ''))}[/]")
            return ChatOutcome(wave.label, 0, False)
        progress = screen.progress
        finished = first_open(progress) is None
        intro = escape(qn.description or qn.title)
        if progress.answers and not finished:
            intro += (f"\n\n[bold]Welcome back[/bold]: resuming at question {screen.fields[0].number} "
                      f"of {screen.total}.")
        self.console.print(Panel(intro, title=f"{escape(qn.title)} {escape(wave.label)}",
                                 subtitle="q to stop, < to go back; your answers are saved as you go"))
        if wave.label == PREVIEW_LABEL:
            self.console.print(PREVIEW_NOTE.format(survey=escape(qn.id)), highlight=False)
        shown: Screen | None = screen
        try:
            if finished and progress.answers:
                shown = await self._review(screen)
            while isinstance(shown, PageScreen):
                progress = shown.progress if shown.saved else progress
                shown = await self._ask(shown)
        except _Done:
            self.console.print("Your answers stay as they are. Thank you!")
            return ChatOutcome(wave.label, progress.answered_count, progress.completed)
        except QuitChat:
            await self.conversation.handle(self.member, Stop(wave.id))
            self.console.print("[yellow]Stopped. Your answers are saved; run the chat again to resume.[/]")
            return ChatOutcome(wave.label, progress.answered_count, progress.completed)
        if isinstance(shown, Notice):
            self.console.print(f"[yellow]{escape(shown.text)}[/] Your earlier answers are kept.")
            return ChatOutcome(wave.label, progress.answered_count, progress.completed)
        assert isinstance(shown, Thanks)
        self.console.print("[green]Thank you! Your answers are complete.[/] "
                           "Run the chat again to change them while the wave is open.")
        return ChatOutcome(wave.label, shown.progress.answered_count, True)

    async def _review(self, screen: PageScreen) -> Screen | None:
        """Everything is answered: offer to go through the answers again (Enter keeps one)."""
        self.console.print("You have answered every question.")
        reply = self.ask("Change your answers? [y/N]> ").strip().lower()
        if reply in QUIT_WORDS or not reply.startswith("y"):
            raise QuitChat if reply in QUIT_WORDS else _Done()
        self.reviewing = True
        shown: Screen | None = screen
        try:
            while isinstance(shown, PageScreen):
                shown = await self._ask(shown)
        finally:
            self.reviewing = False
        return shown

    async def _ask(self, screen: PageScreen) -> Screen | None:
        """Show the page's one field, read an answer, and send it: the next screen."""
        f = screen.fields[0]
        if screen.notice not in ("", RESUMED_NOTICE, COMPLETED_NOTICE):  # those, the intro says
            self.console.print(f"[yellow]{escape(screen.notice)}[/]")
        for message in [f.error, *screen.stray_errors]:
            if message:
                self.console.print(f"[red]{escape(message)}[/]")
        if self._asked != f.question.id:
            heading = f"[bold cyan]{f.number}/{screen.total}[/] [bold]{escape(f.question.text)}[/]"
            self.console.print(f"\n{heading}")
            if f.hint:
                self.console.print(f"[dim]{escape(f.hint)}[/]")
            self._asked = f.question.id
        if f.stored:
            self.console.print(f"  [dim]Your answer: {escape(answer_text(f.question, f.value, f.row))} "
                               f"(Enter keeps it{'' if f.question.required else ', - clears it'})[/]")
        over = self._over_long(f)
        try:
            raw = self._read(f)
        except _Back:
            if f.number <= 1 and (f.row is None or f.first_of_question):
                self.console.print("[dim]This is the first question.[/]")
            self._asked = ""
            return await self.conversation.back(self.member, screen.wave_id, f.key)
        if over and raw == "":
            raw = over
        if self.reviewing or raw is KEEP:
            values = None if raw is KEEP else {f.key: raw}
            shown = await self.conversation.next(self.member, screen.wave_id, f.key, values)
            if values and isinstance(shown, PageScreen | Thanks) and f.key in shown.progress.answers:
                self._echo(f, shown.progress.answers[f.key])
            return shown
        result = await self.conversation.handle(self.member, Pick(screen.wave_id, f.key, raw))
        if isinstance(result, Picked):
            if result.ok:
                stored = next((g for g in result.page.fields if g.key == f.key), None)
                if stored is not None:
                    self._echo(f, stored.value)
            return result.following if result.ok else result.page
        return result

    def _echo(self, f: Field, value: Any) -> None:
        """Say what was stored, in words (a country's name, an option's label, 10 not 10.0)."""
        self.console.print(f"  [green]✓[/] {escape(answer_text(f.question, value, f.row))}")

    def _over_long(self, f: Field) -> str:
        """A text refused for its length is shown again in full, and Enter keeps its first
        `max_length` characters (nothing typed is lost)."""
        limit = f.question.max_length
        if not (f.error and isinstance(f.value, str) and limit and len(f.value) > limit):
            return ""
        self.console.print(f"  [dim]What you wrote ({len(f.value)} characters):[/]")
        self.console.print(f"  {escape(f.value)}", highlight=False, soft_wrap=True)
        self.console.print(f"  [dim]Enter keeps the first {limit} characters, ending "
                           f"“…{escape(f.value[max(limit - 30, 0):limit])}”; or type it again shorter.[/]")
        return f.value[:limit]

    def _prompt(self, f: Field, hint: str) -> Any:
        suffix = "" if f.question.required or f.stored else " (Enter to skip)"
        answer = self.ask(f"{hint}{suffix}> ").strip()
        if answer.lower() in QUIT_WORDS:
            raise QuitChat
        if answer in BACK_WORDS:
            raise _Back
        if f.stored:
            if not answer:
                return KEEP
            if answer == "-" and not f.question.required:
                return ""
        return answer

    def _show_options(self, options: list[Option]) -> None:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for i, opt in enumerate(options, 1):
            table.add_row(f"[bold]{i}[/]", escape(opt.label))
        self.console.print(table)

    @staticmethod
    def _pick(options: list[Option], word: Any) -> Any:
        if isinstance(word, str) and word.isdigit() and 1 <= int(word) <= len(options):
            return options[int(word) - 1].id
        return word

    def _read(self, f: Field) -> Any:
        q = f.question
        if f.row is not None:
            self.console.print(f"  [bold]{escape(f.row.label)}[/]")
            self._show_options(q.scale)
            return self._pick(q.scale, self._prompt(f, "  Number"))
        match q.type:
            case QuestionType.single:
                self._show_options(q.choices)
                return self._pick(q.choices, self._prompt(f, "Number or name"))
            case QuestionType.multi:
                self._show_options(q.choices)
                raw = self._prompt(f, "Numbers (comma-separated)")
                if raw is KEEP:
                    return raw
                return [self._pick(q.choices, w.strip()) for w in raw.split(",") if w.strip()]
            case QuestionType.country:
                return self._read_country(f)
            case QuestionType.number:
                return self._prompt(f, "A number")
            case _:
                return self._prompt(f, f"Your answer (up to {q.max_length} characters)")

    def _read_country(self, f: Field) -> Any:
        """A name, code or alias (UK, USA…), echoed back as the country it stands for; what
        matches nothing is asked again with the names it could mean, never guessed."""
        choices = f.question.choices
        while True:
            word = self._prompt(f, "Country name or code")
            if word is KEEP or not word:
                return word
            opt = find_option(choices, word)
            code = opt.id if opt is not None else find_country(word)
            chosen = f.question.option(code) if code else None
            if chosen is not None:
                self.console.print(f"  → {escape(chosen.label)}", highlight=False)
                return chosen.id
            close = [COUNTRIES[c] for c in suggest_countries(word, limit=10)]
            if close:
                self.console.print(f"Did you mean: {escape(', '.join(close))}?", highlight=False)
            else:
                self.console.print(f"[red]No country matches '{escape(word)}'.[/]")
