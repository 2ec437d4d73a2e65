"""stateof domain: questionnaires, waves, answers, privacy. Imports neither bot nor analytics."""
