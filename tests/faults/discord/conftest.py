"""Discord fault tests: the Discord test kit's fixtures (fake Discord, the bot through
`start_discord`)."""

from __future__ import annotations

from tests.discord.conftest import _fast_ready, discord_settings, dservices, fake, runtime  # noqa: F401
