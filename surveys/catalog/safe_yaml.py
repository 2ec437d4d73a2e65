"""Load questionnaire YAML within limits: size, nesting depth, aliases and what they expand to,
duplicate keys, all checked before any Python object is built, so a hostile file is a
one-line error in well under a second instead of a RecursionError or an exhausted machine.

The text is read twice: first as a flat stream of events (PyYAML's parser is not recursive),
which bounds depth and aliases; then as a node graph (aliases are shared nodes, not copies),
whose expanded size, cycles and duplicate keys are checked before it is constructed.
"""

from __future__ import annotations

import logging
from typing import Any

from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode

log = logging.getLogger(__name__)

MAX_BYTES = 256 * 1024  # the built-in questionnaire is 5 KB; 500 options of 150 characters fit
MAX_DEPTH = 16  # a questionnaire nests 6 levels (questions → question → options → option → previously)
MAX_ALIASES = 200
MAX_NODES = 100_000  # after expanding aliases
_MERGE = "tag:yaml.org,2002:merge"


class YamlLimitError(Exception):
    """The text is over a limit or repeats a key; the message is one line with its place."""


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise YamlLimitError(f"the file has {size:,} bytes; a questionnaire has at most {MAX_BYTES:,}")


def _scan_events(text: str, loader_cls: type) -> None:
    loader = loader_cls(text)
    depth = aliases = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlLimitError(f"{_where(event.start_mark)}nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
            elif isinstance(event, AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise YamlLimitError(f"{_where(event.start_mark)}more than {MAX_ALIASES} aliases (*name)")
    finally:
        loader.dispose()


def _check_graph(root: Node) -> None:
    """Expanded size (aliases counted as copies), cycles and duplicate keys of a node graph."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlLimitError(f"{_where(node.start_mark)}an alias refers to a node that contains it")
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for child in node.value:
                total += size(child)
        elif isinstance(node, MappingNode):
            seen: dict[tuple[str, str], Any] = {}
            for k, v in node.value:
                if k.tag != _MERGE and not isinstance(k, MappingNode | SequenceNode):
                    ident = (k.tag, str(k.value))
                    if ident in seen:
                        raise YamlLimitError(
                            f"{_where(k.start_mark)}duplicate key '{k.value}' (first given on line "
                            f"{seen[ident].line + 1}); each key may appear once")
                    seen[ident] = k.start_mark
                total += size(k) + size(v)
        active.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            raise YamlLimitError(f"{_where(node.start_mark)}the document expands to more than "
                                 f"{MAX_NODES:,} values (aliases repeat what they name)")
        return total

    size(root)


def load_limited(text: str, loader_cls: type) -> Any:
    """The YAML document in `text`, constructed with `loader_cls` once every limit holds.

    Raises YamlLimitError (a limit, a duplicate key) or yaml.YAMLError (malformed YAML).
    """
    check_size(len(text.encode("utf-8", "surrogatepass")))
    _scan_events(text, loader_cls)
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
