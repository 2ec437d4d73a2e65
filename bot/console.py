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

from bot.answering.conversation import Conversation, Picked, first_open, one_at_a_time, shown
from bot.answering.events import Pick, Stop
from bot.answering.options import by_number, kept_text, typed_country
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
from surveys.identity import Member
from surveys.models import Wave, WaveStatus
from surveys.schema import QuestionType
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
            return found or await create_wave(session, preview, qn, PREVIEW_LABEL, status=WaveStatus.open)

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
            intro += f"\n\n[bold]Welcome back[/bold]: resuming at {screen.asking(screen.fields[0])}."
        self.console.print(Panel(intro, title=f"{escape(qn.title)} {escape(wave.label)}",
                                 subtitle="q to stop, < to go back; your answers are saved as you go"))
        if wave.label == PREVIEW_LABEL:
            self.console.print(PREVIEW_NOTE.format(survey=escape(qn.id)), highlight=False)
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
        for message in filter(None, [f.error, *screen.stray_errors]):
            self.console.print(f"[red]{escape(message)}[/]")
        if self._asked != f.question.id:
            said = f"[bold cyan]{f.number}/{screen.total}[/] [bold]{escape(f.question.text)}[/]"
            self.console.print(f"\n{said}")
            if f.hint:
                self.console.print(f"[dim]{escape(f.hint)}[/]")
            self._asked = f.question.id
        if f.stored:
            self.console.print(f"  [dim]Your answer: {escape(answer_text(f.question, f.value, f.row))} "
                               f"(Enter keeps it{'' if f.question.required else ', - clears it'})[/]")
        if kept := kept_text(f.question, f.value, f.error):  # nothing typed is lost
            self.console.print(f"  [dim]What you wrote ({len(f.value)} characters):[/]\n  {escape(f.value)}"
                               f"\n  [dim]Enter keeps the first {len(kept)} characters, ending “…"
                               f"{escape(kept[-30:])}”; or type it again shorter.[/]", highlight=False)
        try:
            raw = self._read(f)
        except _Back:
            if f.number <= 1 and (f.row is None or f.first_of_question):
                self.console.print("[dim]This is the first question.[/]")
            self._asked = ""
            return await self.conversation.back(self.member, screen.wave_id, f.key)
        raw = kept if kept and raw == "" else raw
        if self.reviewing or raw is KEEP:
            values = None if raw is KEEP else {f.key: raw}
            after = await self.conversation.next(self.member, screen.wave_id, f.key, values)
            if values and isinstance(after, PageScreen | Thanks) and f.key in after.progress.answers:
                self._echo(f, after.progress.answers[f.key])
            return after
        result = await self.conversation.handle(self.member, Pick(screen.wave_id, f.key, raw))
        if isinstance(result, Picked) and result.ok:
            for stored in (g for g in result.page.fields if g.key == f.key):
                self._echo(f, stored.value)
        return shown(result)

    def _echo(self, f: Field, value: Any) -> None:
        """Say what was stored, in words (a country's name, an option's label, 10 not 10.0)."""
        self.console.print(f"  [green]✓[/] {escape(answer_text(f.question, value, f.row))}")

    def _prompt(self, f: Field, hint: str) -> Any:
        suffix = "" if f.question.required or f.stored else " (Enter to skip)"
        answer = self.ask(f"{hint}{suffix}> ").strip()
        if answer.lower() in QUIT_WORDS:
            raise QuitChat
        if answer in BACK_WORDS:
            raise _Back
        if f.stored and (not answer or (answer == "-" and not f.question.required)):
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
        while True:
            word = self._prompt(f, "Country name or code")
            if word is KEEP or not word:
                return word
            chosen, close = typed_country(f.question, word)
            if chosen is not None:
                self.console.print(f"  → {escape(chosen.label)}", highlight=False)
                return chosen.id
            self.console.print(f"Did you mean: {escape(', '.join(close))}?" if close
                               else f"[red]No country matches '{escape(word)}'.[/]", highlight=False)
