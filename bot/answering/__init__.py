"""Answering a questionnaire, once for every front end.

Adapters (the Slack modal and DMs, Discord, the terminal, the in-memory front end of the
tests) translate what a member did into a neutral event (`events`) and hand it to one
`Conversation`; it answers with a neutral screen (`screens`) that the adapter renders.
The conversation owns the community check, the per-member order (`bot.serial.AnswerGate`),
the wave cache, double clicks, notices, hints, progress, resume and storing with retries.
"""
