"""Fault tests: the Slack test kit's fixtures (the fake Slack, the bot served over HTTP), a
scheduler on a manual clock, and the database proxy (see dbproxy.py).

Each test here injects one fault (a database that hangs or drops connections, a failing
upload, two moderators at once, a killed process) and asserts what the campaign of issue 10
measured: 0 acknowledged answers lost, 0 duplicates, 0 double posts.
"""

from __future__ import annotations

from tests.slack.conftest import _no_proxy, bot, fake, slack_settings, sservices  # noqa: F401
