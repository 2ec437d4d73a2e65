"""The rule language of derived fields: a small boolean language over answers, parsed here into
an AST of a handful of node types. Nothing is ever evaluated as Python (no `eval`, no Python
`ast`): a rule is a string of whitelisted tokens, read by a recursive-descent parser with
bounded length, token count and nesting, then checked against the questionnaire.

    models_in_production in (2_5, 6_20, more_than_20) and recent_work has any (retrain, manage_models)
    role = lead or (tooling.model_monitoring = established and not company_size in (1_10, 11_50))
    years >= 3 and biggest_challenge is answered

Tests (QUESTION is a question id, `QUESTION.ROW` a grid row; OPTION an option id):
- `Q = OPTION`, `Q != OPTION`, `Q in (A, B)`, `Q not in (A, B)`: single, country, grid row;
- `Q has OPTION`, `Q has any (A, B)`, `Q has all (A, B)`: multi choice;
- `Q < N`, `<=`, `>`, `>=`, `Q = N`, `Q != N`: number questions;
- `Q is answered`, `Q is not answered`: any question;
- `and`, `or`, `not`, parentheses, `true`, `false`.

`!=`, `not in` and `not` hold for someone who did not answer; `has`, `=`, `in` and
comparisons never do. Evaluation lives with the results (analytics.derived), which turns a
rule into database conditions; this module never imports it.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any, cast

from surveys.schema import Question, Questionnaire, QuestionType

log = logging.getLogger(__name__)

MAX_LENGTH = 1000  # characters of one rule
MAX_TOKENS = 200
MAX_DEPTH = 12  # nested parentheses and `not`
MAX_LIST = 50  # values in one `in (...)` list

KEYWORDS = frozenset({"and", "or", "not", "in", "has", "any", "all", "is", "answered", "true", "false"})
_TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+\.\d+(?![\w-]))|(?P<name>-?[A-Za-z0-9][A-Za-z0-9_\-]*)"
                    r"|(?P<op><=|>=|!=|[=<>(),.]))")
_HELP = ("a rule uses question and option ids, numbers, = != < <= > >=, in, has, is answered, "
         "and, or, not and parentheses")


class ExpressionError(ValueError):
    """A rule outside the language, or one that does not fit the questionnaire (one line)."""


# --- the AST -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Chose:
    """The respondent chose one of `options` in `question` (grid: in its `row`)."""

    question: str
    row: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    """A number answer compared with a constant."""

    question: str
    op: str  # one of < <= > >= = !=
    value: float


@dataclass(frozen=True)
class Answered:
    question: str
    row: str


Node = Const | Not | And | Or | Chose | Compare | Answered
# what the parser builds before `check` knows each question's type (_Has, _Is, _Cmp below)
Parsed = Any


# --- reading a rule ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "num", "op", "end"
    text: str
    column: int


def tokenize(text: str) -> list[_Token]:
    """The rule's tokens; ExpressionError at the first character outside the language."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"a rule has at most {MAX_LENGTH} characters ({len(text)} given)")
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            column = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            char = text[column - 1]
            shown = repr(char) if char.isprintable() else f"\\u{ord(char):04x}"
            raise ExpressionError(f"column {column}: {shown} cannot appear in a rule ({_HELP})")
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        if len(tokens) > MAX_TOKENS:
            raise ExpressionError(f"a rule has at most {MAX_TOKENS} words and symbols")
        pos = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text in words

    def sym(self, symbol: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == symbol

    def fail(self, expected: str) -> ExpressionError:
        found = f"'{self.tok.text}'" if self.tok.kind != "end" else "the end of the rule"
        return ExpressionError(f"column {self.tok.column}: expected {expected}, found {found}")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"column {self.tok.column}: a rule nests at most {MAX_DEPTH} levels "
                                  "(parentheses and not)")

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise self.fail("and, or, or the end of the rule")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.word("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.word("and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        if self.word("not"):
            self.take()
            self.nest()
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        if self.sym("("):
            self.take()
            self.nest()
            node = self.or_()
            if not self.sym(")"):
                raise self.fail("')'")
            self.take()
            self.depth -= 1
            return node
        if self.word("true", "false"):
            return Const(self.take().text == "true")
        return self.test()

    def ident(self, what: str) -> str:
        if self.tok.kind != "name" or self.tok.text in KEYWORDS or self.tok.text.startswith("-"):
            raise self.fail(what)
        return self.take().text

    def value(self) -> str:
        if self.tok.kind == "num" or (self.tok.kind == "name" and self.tok.text not in KEYWORDS):
            return self.take().text
        raise self.fail("an option id or a number")

    def values(self) -> tuple[str, ...]:
        if not self.sym("("):
            raise self.fail("'(' and a list of option ids")
        self.take()
        out = [self.value()]
        while self.sym(","):
            self.take()
            out.append(self.value())
            if len(out) > MAX_LIST:
                raise ExpressionError(f"column {self.tok.column}: a list has at most {MAX_LIST} values")
        if not self.sym(")"):
            raise self.fail("',' or ')'")
        self.take()
        return tuple(out)

    def test(self) -> Parsed:
        question = self.ident("a question id, 'not', 'true', 'false' or '('")
        row = ""
        if self.sym("."):
            self.take()
            row = self.ident("a grid row id after '.'")
        if self.word("is"):
            self.take()
            negate = self.word("not")
            if negate:
                self.take()
            if not self.word("answered"):
                raise self.fail("'answered'")
            self.take()
            node: Parsed = Answered(question, row)
            return Not(node) if negate else node
        if self.word("has"):
            self.take()
            if self.word("any", "all") and self.tokens[self.i + 1].text == "(":
                mode = self.take().text
                options = self.values()
                if mode == "all":
                    return And(tuple(cast(Node, _Has(question, row, (o,))) for o in options))
                return _Has(question, row, options)
            return _Has(question, row, (self.value(),))
        if self.word("not") and self.tokens[self.i + 1].text == "in":
            self.take()
            self.take()
            return Not(cast(Node, _Is(question, row, self.values())))
        if self.word("in"):
            self.take()
            return _Is(question, row, self.values())
        if self.tok.kind == "op" and self.tok.text in ("=", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            value = self.value()
            if op in ("=", "!="):
                node = _Is(question, row, (value,), compare=op)
                return Not(node) if op == "!=" else node
            return _Cmp(question, row, op, _number(value, self.tokens[self.i - 1].column))
        raise self.fail(f"=, !=, <, <=, >, >=, in, not in, has or is after '{question}'")


@dataclass(frozen=True)
class _Has:
    """`has`: a multi-choice test, checked and turned into Chose by `check`."""

    question: str
    row: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class _Is:
    """`=` or `in` before the question's type is known: Chose, or Compare for a number."""

    question: str
    row: str
    options: tuple[str, ...]
    compare: str = ""


@dataclass(frozen=True)
class _Cmp:
    """`<`, `<=`, `>`, `>=`: a number test, checked and turned into Compare by `check`."""

    question: str
    row: str
    op: str
    value: float


def _number(text: str, column: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ExpressionError(f"column {column}: '{text}' is not a number") from None
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ExpressionError(f"column {column}: '{text}' is out of range")
    return value


def parse(text: str) -> Node:
    """The rule's syntax tree (question and option ids not yet checked)."""
    return _Parser(text).parse()


# --- checking against a questionnaire -------------------------------------------------------

def _question(qn: Questionnaire, qid: str, row: str) -> Question:
    if not qn.has_question(qid):
        raise ExpressionError(f"'{qid}' is not a question of {qn.id}")
    q = qn.question(qid)
    if q.type is QuestionType.grid:
        if not row:
            rows = ", ".join(f"{qid}.{r.id}" for r in q.rows)
            raise ExpressionError(f"'{qid}' is a grid: name a row ({rows})")
        if q.row(row) is None:
            raise ExpressionError(f"'{row}' is not a row of '{qid}'")
    elif row:
        raise ExpressionError(f"'{qid}' is a {q.type.value} question; only grid questions have rows")
    return q


def _options(q: Question, row: str, given: tuple[str, ...]) -> tuple[str, ...]:
    choices = q.scale if q.type is QuestionType.grid else q.choices
    out: list[str] = []
    for item in given:
        if q.type is QuestionType.country:
            found = next((o for o in choices if o.id == item.upper()), None)
        else:
            found = next((o for o in choices if o.id == item or item in o.previously), None)
        if found is None:
            where = f"'{q.id}.{row}'" if row else f"'{q.id}'"
            raise ExpressionError(f"'{item}' is not an option of {where}")
        if found.id not in out:
            out.append(found.id)
    return tuple(out)


def check(node: Node, qn: Questionnaire) -> Node:
    """The rule with every question and option checked against `qn` (current ids, former ids
    turned into current ones); ExpressionError naming the first that does not fit."""
    if isinstance(node, Const):
        return node
    if isinstance(node, Not):
        return Not(check(node.item, qn))
    if isinstance(node, And):
        return And(tuple(check(item, qn) for item in node.items))
    if isinstance(node, Or):
        return Or(tuple(check(item, qn) for item in node.items))
    if isinstance(node, Answered):
        _question(qn, node.question, node.row)
        return node
    if isinstance(node, _Cmp):
        q = _question(qn, node.question, node.row)
        if q.type is not QuestionType.number:
            raise ExpressionError(f"'{q.id}' is a {q.type.value} question; {node.op} compares numbers")
        return Compare(q.id, node.op, node.value)
    if isinstance(node, _Has):
        q = _question(qn, node.question, node.row)
        if q.type is not QuestionType.multi:
            raise ExpressionError(f"'{q.id}' is a {q.type.value} question; 'has' is for multi-choice "
                                  "(use = or in)")
        return Chose(q.id, "", _options(q, "", node.options))
    if isinstance(node, _Is):
        q = _question(qn, node.question, node.row)
        if q.type is QuestionType.number and node.compare:
            return Compare(q.id, "=", _number(node.options[0], 0))  # `!=` is Not(this)
        if q.type is QuestionType.multi:
            raise ExpressionError(f"'{q.id}' is a multi-choice question; use 'has' (has any, has all)")
        if q.type in (QuestionType.text, QuestionType.number):
            raise ExpressionError(f"'{q.id}' is a {q.type.value} question; only 'is answered' tests it"
                                  + (" or compare it with a number" if q.type is QuestionType.number else ""))
        row = q.row(node.row).id if node.row else ""  # type: ignore[union-attr]  # _question checked the row
        return Chose(q.id, row, _options(q, row, node.options))
    if isinstance(node, Chose | Compare):
        return node
    raise ExpressionError("unknown rule element")  # pragma: no cover - the parser makes no others


def questions_used(node: Node) -> set[str]:
    """The ids of the questions a (checked) rule reads."""
    if isinstance(node, Not):
        return questions_used(node.item)
    if isinstance(node, And | Or):
        return set().union(*(questions_used(item) for item in node.items))
    if isinstance(node, Chose | Compare | Answered):
        return {node.question}
    return set()


def compile_rule(text: str, qn: Questionnaire) -> Node:
    """Parse and check one rule; ExpressionError with one line on any problem."""
    return check(parse(text), qn)

__all__ = ["And", "Answered", "Chose", "Compare", "Const", "ExpressionError", "Node", "Not", "Or",
           "compile_rule", "check", "parse", "questions_used", "tokenize"]
