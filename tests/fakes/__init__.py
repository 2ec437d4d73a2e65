"""Local fakes of external platforms (Slack, ...) for tests; they run over real sockets."""
