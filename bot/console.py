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

from bot.answering.conversation import Conversation, first_open, one_at_a_time, shown
from bot.answering.events import Next, Pick, Stop
from bot.answering.options import by_number
from bot.answering.screens import (
    COMPLETED_NOTICE,
    RESUMED_NOTICE,
    Field,
    PageScreen,
    Screen,
    Thanks,
    answer_text,
)
from bot.services import Services
from surveys.countries import COUNTRIES, find_country, suggest_countries
from surveys.identity import Member
from surveys.models import Wave, WaveStatus
from surveys.schema import QuestionType
from surveys.validation import find_option
from surveys.waves import create_wave, ensure_community, find_wave, open_waves, questionnaire_of

log = logging.getLogger(__name__)

PREVIEW_COMMUNITY = "console-preview"
PREVIEW_LABEL = "preview"
QUIT_WORDS = {"q", "quit", ":q", "exit"}
KEEP = object()  # reviewing: Enter keeps the answer already given


class QuitChat(Exception):
    """The person asked to stop; their answers so far are saved."""


class _Done(QuitChat):
    """Nothing to change after all."""


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
        # the preview wave lives in a community of its own: no community check here
        self.conversation = Conversation(services, "console", one_at_a_time, double_click=0,
                                         check_community=False)
        self.reviewing = False
        self._asked = ""  # the question whose heading was printed last

    async def pick_wave(self, survey_id: str) -> Wave:
        """An open wave of the survey in the community, else a separate preview wave."""
        qn = self.services.catalog.get(survey_id)
        community = await self.services.community_for("console", "local")
        async with self.services.db.session() as session:
            for wave in await open_waves(session, community.id):
                if wave.survey_id == qn.id:
                    return wave
            preview = await ensure_community(session, PREVIEW_COMMUNITY, "Terminal preview")
            found = await find_wave(session, preview.id, qn.id, PREVIEW_LABEL)
            return found or await create_wave(session, preview, qn, PREVIEW_LABEL, status=WaveStatus.open)

    async def run(self, survey_id: str) -> ChatOutcome:
        wave = await self.pick_wave(survey_id)
        qn = questionnaire_of(wave)
        screen = await self.conversation.take(self.member, wave.id)
        if not isinstance(screen, PageScreen):
            self.console.print(f"[yellow]{escape(getattr(screen, 'text', ''))}[/]")
            return ChatOutcome(wave.label, 0, False)
        progress = screen.progress
        finished = first_open(progress) is None
        intro = escape(qn.description or qn.title)
        if progress.answers and not finished:
            intro += f"\n\n[bold]Welcome back[/bold]: resuming at {screen.asking(screen.fields[0])}."
        self.console.print(Panel(intro, title=f"{escape(qn.title)} {escape(wave.label)}",
                                 subtitle="q to stop; your answers are saved as you go"))
        current: Screen | None = screen
        try:
            self.reviewing = finished and bool(progress.answers) and self._review()
            while isinstance(current, PageScreen):
                progress = current.progress if current.saved else progress
                current = await self._ask(current)
        except _Done:
            self.console.print("Your answers stay as they are. Thank you!")
        except QuitChat:
            await self.conversation.handle(self.member, Stop(wave.id))
            self.console.print("[yellow]Stopped. Your answers are saved; run the chat again to resume.[/]")
        else:
            if isinstance(current, Thanks):
                self.console.print("[green]Thank you! Your answers are complete.[/] "
                                   "Run the chat again to change them while the wave is open.")
                return ChatOutcome(wave.label, current.progress.answered_count, True)
            said = escape(getattr(current, "text", ""))
            self.console.print(f"[yellow]{said}[/] Your earlier answers are kept.")
        return ChatOutcome(wave.label, progress.answered_count, progress.completed)

    def _review(self) -> bool:
        """Everything is answered: offer to go through the answers again (Enter keeps one)."""
        self.console.print("You have answered every question.")
        reply = self.ask("Change your answers? [y/N]> ").strip().lower()
        if reply in QUIT_WORDS or not reply.startswith("y"):
            raise QuitChat if reply in QUIT_WORDS else _Done()
        return True

    async def _ask(self, screen: PageScreen) -> Screen | None:
        """Show the page's one field, read an answer, and send it: the next screen."""
        f = screen.fields[0]
        if screen.notice not in ("", RESUMED_NOTICE, COMPLETED_NOTICE):  # those, the intro says
            self.console.print(f"[yellow]{escape(screen.notice)}[/]")
        for message in [f.error, *screen.stray_errors]:
            if message:
                self.console.print(f"[red]{escape(message)}[/]")
        if self._asked != f.question.id:
            said = f"[bold cyan]{f.number}/{screen.total}[/] [bold]{escape(f.question.text)}[/]"
            self.console.print(f"\n{said}")
            if f.hint:
                self.console.print(f"[dim]{escape(f.hint)}[/]")
            self._asked = f.question.id
        if self.reviewing and f.stored:
            self.console.print(f"  [dim]Your answer: {escape(answer_text(f.question, f.value, f.row))} "
                               f"(Enter keeps it{'' if f.question.required else ', - clears it'})[/]")
        raw = self._read(f)
        if self.reviewing:
            values = None if raw is KEEP else {f.key: raw}
            return shown(await self.conversation.handle(self.member, Next(screen.wave_id, f.key, values)))
        return shown(await self.conversation.handle(self.member, Pick(screen.wave_id, f.key, raw)))

    def _prompt(self, f: Field, hint: str) -> Any:
        suffix = "" if f.question.required or self.reviewing else " (Enter to skip)"
        answer = self.ask(f"{hint}{suffix}> ").strip()
        if answer.lower() in QUIT_WORDS:
            raise QuitChat
        if self.reviewing and f.stored and (not answer or (answer == "-" and not f.question.required)):
            return KEEP if not answer else ""
        return answer

    def _read(self, f: Field) -> Any:
        """The answer to one field as typed: options by number (a multi's comma-separated)."""
        q = f.question
        if q.type is QuestionType.country and f.row is None:
            return self._read_country(f)
        if f.row is not None:
            self.console.print(f"  [bold]{escape(f.row.label)}[/]")
        if f.row is not None or q.type in (QuestionType.single, QuestionType.multi):
            table = Table(show_header=False, box=None, padding=(0, 1))
            for i, opt in enumerate(f.options, 1):
                table.add_row(f"[bold]{i}[/]", escape(opt.label))
            self.console.print(table)
        if f.row is not None or q.type is QuestionType.single:
            return by_number(f.options, self._prompt(f, "  Number" if f.row else "Number or name"))
        if q.type is QuestionType.multi:
            raw = self._prompt(f, "Numbers (comma-separated)")
            words = [] if raw is KEEP else [w.strip() for w in raw.split(",") if w.strip()]
            return raw if raw is KEEP else [by_number(f.options, w) for w in words]
        return self._prompt(f, "A number" if q.type is QuestionType.number
                            else f"Your answer (up to {q.max_length} characters)")

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
