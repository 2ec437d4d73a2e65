"""What the Discord client hands interactions to (`client.stateof`): commands, answers, my-data.

Interactions are translated here into neutral `Invocation`s for `bot.commands.Commands` and
their replies (`Message`s) rendered back (ephemeral embeds, files, persistent buttons). Moderators are
members with Manage Server (or Administrator) or the role named in
`STATEOF_DISCORD_MODERATOR_ROLE` (a name or an id); others get a private refusal.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.command_table import command as table_command
from bot.commands import CONFIRM_DELETE_MY_DATA, DELETE_MY_DATA, STOP_REMINDERS, Commands, Invocation
from bot.discord.acks import acknowledged
from bot.discord.answering import PLATFORM, AnswerUI
from bot.discord.appcommands import choices
from bot.discord.items import MyDataButton
from bot.discord.render import embed_for, reply_payload
from bot.discord.respond import Outcome, SeenInteractions, answer
from bot.lifecycle import preload_analytics
from bot.services import Services
from surveys.errors import SurveyError
from surveys.identity import Member
from surveys.ports import Message
from surveys.schema import QuestionType
from surveys.waves import current_wave, list_waves, questionnaire_of

log = logging.getLogger(__name__)
Choice = app_commands.Choice[str]

def reply_outcome(reply: Message, space: str) -> Outcome:
    kwargs = reply_payload(reply, space)
    return Outcome(
        embed=kwargs["embed"], files=kwargs.get("files", []), view=kwargs.get("view"),
        ephemeral=reply.ephemeral,
    )


class DiscordFrontend:
    """Handles `/survey`, autocomplete, answer components and my-data buttons."""

    def __init__(self, services: Services):
        self.services = services
        self.settings = services.settings
        preload_analytics()  # not on the first /survey results, inside the event loop
        self.commands = Commands(services)
        self.answers = AnswerUI(services)
        self.seen = SeenInteractions()

    # -- shared ------------------------------------------------------------------------
    def first_delivery(self, interaction: discord.Interaction) -> bool:
        """False for an interaction id seen before (Discord or a proxy delivered it twice)."""
        first = self.seen.first(interaction.id)
        if not first:
            log.info("dropped a repeated delivery of interaction %s", interaction.id)
        return first

    def is_moderator(self, interaction: discord.Interaction) -> bool:
        perms = interaction.permissions
        if perms.manage_guild or perms.administrator:
            return True
        wanted = (self.settings.discord_moderator_role or "").strip()
        user = interaction.user
        if not wanted or not isinstance(user, discord.Member):
            return False
        if wanted.isdigit() and user.get_role(int(wanted)) is not None:
            return True
        return any(role.name.casefold() == wanted.casefold() for role in user.roles)

    # -- /survey -------------------------------------------------------------------------
    def invocation(self, interaction: discord.Interaction, command: str, args: dict[str, Any]) -> Invocation:
        clean: dict[str, str] = {}
        for key, value in args.items():
            if value is None or value is False:
                continue
            clean[key] = "yes" if value is True else str(value.id) if hasattr(value, "id") else str(value)
        return Invocation(
            platform=PLATFORM, space=str(interaction.guild_id),
            channel=str(interaction.channel_id) if interaction.channel_id else None,
            user=str(interaction.user.id), is_moderator=self.is_moderator(interaction),
            command=command, args=clean,
        )

    async def run_command(
        self, interaction: discord.Interaction, command: str, args: dict[str, Any]
    ) -> None:
        if not self.first_delivery(interaction):
            return
        if interaction.guild_id is None:
            await interaction.response.send_message(
                embed=embed_for("", "Use /survey in a server."), ephemeral=True
            )
            acknowledged()
            return
        inv = self.invocation(interaction, command, args)
        spec = table_command(command)
        # slow commands can take longer than Discord's 3 s: deferred at once, answered by follow-up
        slow = spec.slow and inv.is_moderator
        if spec.moderator and not inv.is_moderator:
            log.info("refused /survey %s for a member without moderator rights", command)

        async def work() -> Outcome:
            return reply_outcome(await self.commands.run(inv), inv.space)

        await answer(interaction, work, edit=False, defer_first=slow)

    # -- my data buttons -----------------------------------------------------------------
    async def my_data_action(self, interaction: discord.Interaction, action: str, space: str) -> None:
        member = Member(PLATFORM, str(interaction.guild_id or space), str(interaction.user.id))

        async def work() -> Outcome:
            if action == DELETE_MY_DATA:
                view = discord.ui.View(timeout=None)
                view.add_item(MyDataButton(CONFIRM_DELETE_MY_DATA, member.space,
                                           label="Yes, delete my answers"))
                return Outcome(embed=embed_for(
                    "Delete your answers?",
                    "This deletes every answer you gave in this community's surveys, in all "
                    "waves. It cannot be undone.",
                ), view=view)
            if action == CONFIRM_DELETE_MY_DATA:
                return reply_outcome(await self.commands.delete_my_data(member), member.space)
            if action == STOP_REMINDERS:
                return reply_outcome(await self.commands.stop_reminders(member), member.space)
            return Outcome(embed=embed_for("", "This button is no longer supported."))

        await answer(interaction, work, edit=False)

    # -- autocomplete --------------------------------------------------------------------
    async def survey_choices(self, interaction: discord.Interaction, current: str) -> list[Choice]:
        if not self.is_moderator(interaction):
            return []
        pairs = [(f"{e.questionnaire.title} ({e.questionnaire.id})", e.questionnaire.id)
                 for e in self.services.catalog.entries()]
        return choices(pairs, current)

    async def wave_choices(self, interaction: discord.Interaction, current: str) -> list[Choice]:
        if not self.is_moderator(interaction) or interaction.guild_id is None:
            return []
        community = await self.services.community_for(PLATFORM, str(interaction.guild_id))
        async with self.services.db.session() as session:
            waves = await list_waves(session, community.id)
        pairs = [(f"{w.label} · {questionnaire_of(w).title} ({w.status})", w.label)
                 for w in reversed(waves)]
        return choices(pairs, current)

    async def question_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[Choice]:
        if not self.is_moderator(interaction) or interaction.guild_id is None:
            return []
        community = await self.services.community_for(PLATFORM, str(interaction.guild_id))
        label = getattr(interaction.namespace, "wave", None) or None
        try:
            async with self.services.db.session() as session:
                wave = await current_wave(session, community.id, label)
                qn = questionnaire_of(wave)
        except SurveyError:
            return []
        pairs = [(f"{q.id} · {q.title}", q.id) for q in qn.questions if q.type is not QuestionType.text]
        return choices(pairs, current)

    # -- raw interactions (modals) -------------------------------------------------------
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = interaction.data or {}
        if not str(data.get("custom_id", "")).startswith("stateof:"):
            return
        if not self.first_delivery(interaction):
            return
        await self.answers.modal_submit(interaction)
