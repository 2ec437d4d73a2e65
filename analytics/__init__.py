"""stateof analytics: frames, summaries, comparisons, privacy thresholds and charts."""
