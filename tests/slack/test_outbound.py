"""The CLI's post-only Slack connection (bot.slack.outbound) for an OAuth (multi-workspace) app."""

from __future__ import annotations

from bot.slack import outbound
from bot.slack.installations import SQLInstallationStore


async def test_oauth_app_connects_with_the_sealing_key(services):
    # Before mypy ran in CI, the installation store was built without its sealing secret:
    # `stateof launch` with an OAuth app failed with a TypeError before posting anything.
    services.settings = services.settings.model_copy(update={
        "slack_client_id": "111.222", "slack_client_secret": "shh", "slack_bot_token": None,
        "slack_api_url": "http://127.0.0.1:9/api/",
    })
    close = await outbound.connect(services)
    assert close is not None
    try:
        notifier = services.notifiers["slack"]
        store = notifier.clients.installation_store
        assert isinstance(store, SQLInstallationStore)
        assert store.secret == services.secret
    finally:
        await close()
