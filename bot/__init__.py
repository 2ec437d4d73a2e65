"""stateof bot process: settings, CLI, composition root, scheduler and platform adapters."""
