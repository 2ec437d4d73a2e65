"""`stateof launch|close` posting through Discord's REST API (the fake), as from cron or CI."""

from __future__ import annotations

from tests.discord.kit import texts
from tests.slack.test_cli_waves import stateof


async def test_launch_and_close_from_the_command_line_post_in_discord(fake, dservices, tmp_path):
    env = {"STATEOF_DATABASE_URL": dservices.settings.database_url,
           "STATEOF_SECRET_KEY": "cli-test-secret-0123456789",
           "DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_url}
    channel = f"discord:{fake.guild_id}:{fake.general}"
    code, out, err = await stateof("launch", "state-of-mlops", "--wave", "2026", "--channel", channel,
                                   env=env, cwd=tmp_path)
    assert code == 0, err
    assert "State of MLOps 2026 is open and announced" in out
    (announcement,) = fake.channel_messages(fake.general)
    assert "State of MLOps 2026 is open" in texts(announcement)
    assert announcement["allowed_mentions"] == {"parse": []}

    code, out, err = await stateof("close", "--wave", "2026", env=env, cwd=tmp_path)
    assert code == 0 and "summary was posted to 1 channel(s)" in out, (out, err)
    assert "has closed" in texts(fake.channel_messages(fake.general)[-1])

    bad = {**env, "DISCORD_TOKEN": "not-a-token"}
    code, out, err = await stateof("status", env=bad, cwd=tmp_path)
    assert code == 2 and "DISCORD_TOKEN is invalid" in err and len(err.strip().splitlines()) == 1
