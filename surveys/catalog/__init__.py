"""The questionnaire catalog: built-in YAML files plus any a community adds, and validation."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from surveys.catalog.safe_yaml import YamlLimitError, check_size, load_limited
from surveys.derived import derived_problems
from surveys.errors import UnknownSurvey
from surveys.invisible import escape_char, shown
from surveys.schema import (
    Question,
    Questionnaire,
    format_location,
    question_problems,
    raw_value_problems,
    semantic_problems,
)

log = logging.getLogger(__name__)

PAST_DIR = "past"  # earlier versions of the built-in questionnaires


_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed


class _Yaml12Loader(_SafeBase):  # type: ignore[misc, valid-type]
    """Safe loader where only true/false are booleans (`yes`, `no`, `on` stay text)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class QuestionnaireError(Exception):
    """A questionnaire file that cannot be used; `problems` lists each one with its path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class CatalogEntry:
    questionnaire: Questionnaire
    source: str


def parse_questionnaire(text: str, source: str = "<text>") -> Questionnaire:
    """Parse and check a YAML questionnaire; raise QuestionnaireError listing every problem.

    Size, nesting, aliases and duplicate keys are checked before anything is built (see
    `safe_yaml`); then numbers must be finite and bounded and text free of control characters.
    """
    try:
        data = load_limited(text, _Yaml12Loader)
    except YamlLimitError as exc:
        raise QuestionnaireError(source, [str(exc)]) from None
    except yaml.YAMLError as exc:
        raise QuestionnaireError(source, [_yaml_error(exc)]) from None
    if not isinstance(data, dict):
        raise QuestionnaireError(source, ["(top level): expected a mapping with id, title, questions"])
    problems = raw_value_problems(data)
    if problems:
        raise QuestionnaireError(source, problems)
    try:
        qn = Questionnaire.model_validate(data)
    except ValidationError as exc:
        problems = [f"{format_location(e['loc'])}: {_message(e)}" for e in exc.errors()]
        problems += [p for p in _question_level_problems(data) if p not in problems]
        raise QuestionnaireError(source, problems) from None
    problems = semantic_problems(qn)
    problems += derived_problems(qn) if not problems else []
    if problems:
        raise QuestionnaireError(source, problems)
    return qn


def _yaml_error(exc: yaml.YAMLError) -> str:
    """A YAML error as one line with its place; a refused character shown escaped."""
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return (f"character {exc.position + 1}: malformed YAML: the character {escape_char(char)} "
                f"is not allowed ({' '.join(str(exc.reason).split())})")
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}malformed YAML: {shown(' '.join(str(reason).split()), 200)}"


def _question_level_problems(data: dict) -> list[str]:
    """When the file as a whole does not parse, still check each question that does (duplicate
    ids, option ids, limits), so one broken question does not hide the others' problems.
    Conditions pointing at a question that did not parse are left to the next run."""
    raw = data.get("questions")
    if not isinstance(raw, list):
        return []
    problems: list[str] = []
    seen: set[str] = set()
    earlier: dict[str, Question] = {}
    for i, item in enumerate(raw):
        qid = item.get("id") if isinstance(item, dict) else None
        if isinstance(qid, str | int) and str(qid) in seen:
            problems.append(f"questions[{i}].id: duplicate id '{qid}'")
        try:
            q = Question.model_validate(item)
        except ValidationError:
            if qid is not None:
                seen.add(str(qid))
            continue
        if q.when is None or q.when.question in earlier:
            problems += question_problems(q, i, earlier)
        seen.add(q.id)
        earlier.setdefault(q.id, q)
    return problems


def _message(error: dict) -> str:
    if error["type"] == "enum":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"unknown question type {error['input']!r}; expected {allowed}"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return error["msg"]


def load_file(path: str | Path) -> Questionnaire:
    """Load one questionnaire file."""
    p = Path(path)
    try:
        check_size(p.stat().st_size)
        text = p.read_text("utf-8")
    except YamlLimitError as exc:
        raise QuestionnaireError(str(p), [str(exc)]) from None
    except OSError as exc:
        raise QuestionnaireError(str(p), [f"cannot read file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise QuestionnaireError(str(p), ["not a UTF-8 text file (a questionnaire is YAML text)"]) from None
    return parse_questionnaire(text, str(p))


def _entries_in(folder: Any, prefix: str) -> list[CatalogEntry]:
    entries = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith((".yaml", ".yml")):
            qn = parse_questionnaire(item.read_text("utf-8"), f"{prefix}{item.name}")
            entries.append(CatalogEntry(qn, f"{prefix}{item.name}"))
    return entries


def builtin_entries() -> list[CatalogEntry]:
    """The questionnaires shipped with stateof (their current versions)."""
    return _entries_in(resources.files(__name__), "builtin:")


def past_builtin_entries() -> list[CatalogEntry]:
    """Earlier versions of the built-in questionnaires (`past/`), kept so they can be read back."""
    return _entries_in(resources.files(__name__) / PAST_DIR, f"builtin:{PAST_DIR}/")


class Catalog:
    """Questionnaires by id: the built-in ones and those in extra directories.

    `get(id)` is the current version (new waves run it); `get(id, version=N)` an earlier
    built-in one. Waves keep the version they ran with (surveys.waves.questionnaire_of).
    """

    def __init__(self, extra_dirs: list[Path] | None = None):
        self._entries: dict[str, CatalogEntry] = {}
        self._versions: dict[tuple[str, int], CatalogEntry] = {}
        for entry in past_builtin_entries():
            self._versions[(entry.questionnaire.id, entry.questionnaire.version)] = entry
        for entry in builtin_entries():
            self._entries[entry.questionnaire.id] = entry
        for directory in extra_dirs or []:
            for path in sorted(Path(directory).glob("*.y*ml")):
                qn = load_file(path)
                self._entries[qn.id] = CatalogEntry(qn, str(path))
        for entry in self._entries.values():
            self._versions[(entry.questionnaire.id, entry.questionnaire.version)] = entry

    def get(self, survey_id: str, version: int | None = None) -> Questionnaire:
        """The questionnaire with this id (its current version, or `version`); UnknownSurvey
        (a KeyError) naming the known ids or versions."""
        entry = self._entries.get(survey_id)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownSurvey(f"unknown survey '{survey_id}' (known: {known})")
        if version is None:
            return entry.questionnaire
        found = self._versions.get((survey_id, version))
        if found is None:
            known = ", ".join(str(v) for s, v in sorted(self._versions) if s == survey_id)
            raise UnknownSurvey(f"survey '{survey_id}' has no version {version} (known: {known})")
        return found.questionnaire

    def add(self, qn: Questionnaire, source: str = "runtime") -> None:
        self._entries[qn.id] = CatalogEntry(qn, source)

    def entries(self) -> list[CatalogEntry]:
        return list(self._entries.values())

    def ids(self) -> list[str]:
        return sorted(self._entries)
