"""The README a newcomer reads: every setting in the configuration table, links that resolve in a clone."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _environment_names() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if alias else [])
        names.update(c for c in choices if isinstance(c, str) and c.isupper())
    return names


def test_configuration_table_lists_every_setting():
    table = README[README.index("## Configuration"):]
    table = table[:table.index("\n## ", 1)]
    missing = sorted(n for n in _environment_names() if f"`{n}`" not in table)
    assert _environment_names(), "no settings found"
    assert not missing, f"README's configuration table misses {missing}"


def test_links_resolve_inside_the_repository():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert not target.startswith(".."), f"{target} leaves the repository (a clone has no ../shared)"
        assert (ROOT / target).exists(), f"README links to missing {target}"
