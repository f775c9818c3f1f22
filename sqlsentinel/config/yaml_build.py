"""Build plain data from YAML parser events, with the line of every value, within bounds.

PyYAML's composer recurses (a deeply nested file crashes the interpreter) and an alias
is a shared node that naive walking expands again at every use (a 447-byte "alias bomb"
becomes gigabytes). This builder reads the event stream with an explicit stack instead:
nesting is limited to MAX_DEPTH, and every value counts towards MAX_VALUES, an alias
counting the whole size of its anchor each time it is used, so both are refused at once.

Merge keys follow YAML (`<<: *base`: keys written in the mapping win, then earlier
merged mappings over later ones). Duplicate keys are problems (YAML silently keeps
the last one), except the one form the original SQL Sentinel documented: a Slack
`notify` entry with a second `channel:` key naming the Slack channel, which becomes
`slack_channel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from sqlsentinel.config.parsed import Parsed, Path, format_path
from sqlsentinel.errors import Problem
from sqlsentinel.notify.channels import CHANNELS

MAX_DEPTH = 64  # levels of nesting; a config needs about six
MAX_VALUES = 250_000  # values after alias expansion; 1,000 alerts are about 20,000
MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_NO_KEY = object()  # a mapping waiting for its next key
_SKIPPED = "\0"  # the key of a value that is read but dropped (its key was not text)
_KEY = "\0key"  # path element of a mapping or list written as a key (`? [a, b]`)


class Refused(Exception):
    """The document is too large or too deep to build; `line` is where that became clear."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(eq=False)
class _Frame:
    """A mapping or list being built."""

    path: Path
    value: Any
    line: int
    anchor: str | None
    mark: int  # where this node's line entries start in Builder.order
    size: int = 1
    key: Any = _NO_KEY
    key_line: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # explicit key -> its line
    merges: list[tuple[Any, int, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _Anchor:
    """A finished anchored value: its size and where its line entries are."""

    value: Any
    size: int
    start: int
    end: int
    depth: int


class Builder:
    """One document's data; problems (not errors) go to `parsed.problems`."""

    def __init__(self, loader: yaml.SafeLoader, parsed: Parsed, source: str) -> None:
        self.loader: Any = loader  # PyYAML's event API is untyped
        self.parsed, self.source = parsed, source
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchor] = {}
        self.order: list[tuple[Path, int]] = []  # every line entry, in the order recorded
        self.values = 0
        self.result: Any = None

    def document(self) -> Any:
        """Read the stream; it must hold at most one document."""
        get = self.loader.get_event
        get()  # StreamStart
        first = get()
        if isinstance(first, yaml.StreamEndEvent):
            return None
        handlers = {
            yaml.ScalarEvent: self._scalar,
            yaml.AliasEvent: self._alias,
            yaml.SequenceStartEvent: self._open,
            yaml.MappingStartEvent: self._open,
            yaml.SequenceEndEvent: self._close,
            yaml.MappingEndEvent: self._close,
        }
        event = get()
        while not isinstance(event, yaml.DocumentEndEvent):
            handlers[type(event)](event)
            event = get()
        event = get()
        if not isinstance(event, yaml.StreamEndEvent):
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                first.start_mark,
                "but found another document",
                event.start_mark,
            )
        return self.result

    # ------------------------------------------------------------------ events

    def _scalar(self, event: Any) -> None:
        line = self._count(1, event)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, dict) and top.key is _NO_KEY:
            if tag == MERGE_TAG:
                top.key, top.key_line = "<<", line
                return
            self._key(top, self._construct(tag, event), line, event.anchor)
            return
        path = self._child_path()
        mark = self._line(path, line)
        self._done(self._construct(tag, event), 1, line, path, event.anchor, mark)

    def _alias(self, event: Any) -> None:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            inside = any(f.anchor == event.anchor for f in self.stack)
            what = "is used inside its own anchor" if inside else "has no anchor"
            message = f"alias *{event.anchor} {what}"
            raise yaml.composer.ComposerError(None, None, message, event.start_mark)
        line = self._count(anchor.size, event)
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.value, dict) and top.key is _NO_KEY:
            self._key(top, anchor.value, line, None)
            return
        path, mark = self._child_path(), len(self.order)
        for p, at in self.order[anchor.start : anchor.end]:
            self._line((*path, *p[anchor.depth :]), at)
        self._place(anchor.value, anchor.size, mark)

    def _open(self, event: Any) -> None:
        line = self._count(1, event)
        if len(self.stack) >= MAX_DEPTH:
            raise Refused(f"the document is nested more than {MAX_DEPTH} levels deep", line)
        path = self._child_path()
        mark = self._line(path, line)
        empty: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Frame(path, empty, line, event.anchor, mark))

    def _close(self, _event: Any) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self._merge(frame)
        self._done(frame.value, frame.size, frame.line, frame.path, frame.anchor, frame.mark)

    # ------------------------------------------------------------------ helpers

    def _count(self, size: int, event: Any) -> int:
        """Count `size` more values; the event's line."""
        line: int = event.start_mark.line + 1
        self.values += size
        if self.values > MAX_VALUES:
            raise Refused(
                f"the document holds more than {MAX_VALUES:,} values (aliases counted at "
                "every use); is it an alias bomb?",
                line,
            )
        return line

    def _construct(self, tag: str, event: Any) -> Any:
        if tag == _STR_TAG:
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        return self.loader.construct_object(node, deep=True)

    def _line(self, path: Path, line: int) -> int:
        """Record `path`'s line; the index of the entry in `order`."""
        self.parsed.lines[path] = line
        self.order.append((path, line))
        return len(self.order) - 1

    def _child_path(self) -> Path:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if top.key is _NO_KEY:
            return (*top.path, _KEY)
        return (*top.path, top.key)

    def _done(self, value: Any, size: int, line: int, path: Path, anchor: Any, mark: int) -> None:
        """A value is complete: remember its anchor, then put it in its parent."""
        if anchor is not None:
            self.anchors[anchor] = _Anchor(value, size, mark, len(self.order), len(path))
        self._place(value, size, mark)

    def _key(self, top: _Frame, key: Any, line: int, anchor: Any) -> None:
        if anchor is not None:
            self.anchors[anchor] = _Anchor(key, 1, 0, 0, 0)
        top.key, top.key_line = key, line
        if not isinstance(key, str):
            shown = "a mapping" if isinstance(key, dict) else repr(key)
            shown = "a list" if isinstance(key, list) else shown
            self._problem(line, top.path, f"keys must be text, not {shown}")
            top.key = _SKIPPED

    def _place(self, value: Any, size: int, mark: int) -> None:
        if not self.stack:
            self.result = value
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.value, list):
            top.value.append(value)
            return
        if top.key is _NO_KEY:  # a list or mapping written as a key
            self._key(top, value, self.parsed.lines.get((*top.path, _KEY), top.line), None)
            return
        key, top.key = top.key, _NO_KEY
        if key == "<<":
            top.merges.append((value, mark, len(self.order), top.key_line))
        elif key != _SKIPPED:
            self._set(top, key, value)

    def _set(self, top: _Frame, key: str, value: Any) -> None:
        if key in top.seen:
            kept = self._duplicate(top, key, value)
            if kept is None:
                return
            key = kept
        top.seen[key] = top.key_line
        top.value[key] = value
        self._line((*top.path, key), top.key_line)

    def _merge(self, frame: _Frame) -> None:
        """YAML merge keys: keys written in the mapping win, then earlier merged mappings."""
        base = len(frame.path) + 1  # line entries of merged values sit under (*path, "<<")
        chosen: dict[str, tuple[int, int | None]] = {}
        for index, (value, start, end, line) in enumerate(frame.merges):
            items = value if isinstance(value, list) else [value]
            for position, item in enumerate(items):
                if not isinstance(item, dict):
                    message = "'<<' (merge key) takes a mapping or a list of mappings"
                    self._problem(line, frame.path, message)
                    continue
                at = position if isinstance(value, list) else None
                for k, v in item.items():
                    if k not in frame.value:
                        frame.value[k] = v
                        chosen[k] = (index, at)
            for p, at_line in self.order[start:end]:
                rel = p[base:]
                if isinstance(value, list):
                    element, rel = (rel[0], rel[1:]) if rel else (None, ())
                    source = (index, element)
                else:
                    source = (index, None)
                if rel and chosen.get(str(rel[0])) == source:
                    self._line((*frame.path, *rel), at_line)

    def _duplicate(self, top: _Frame, key: str, value: Any) -> str | None:
        """Name under which a repeated key is kept, or None after reporting it."""
        path, out, first_line = top.path, top.value, top.seen[key]
        in_notify = len(path) >= 2 and isinstance(path[-1], int) and path[-2] == "notify"
        if key == "channel" and in_notify and isinstance(value, str):
            first = out.get("channel")
            if first == "slack" and value not in CHANNELS:
                return "slack_channel"
            if value == "slack" and first not in CHANNELS:
                out["slack_channel"] = out.pop("channel")
                self._line((*path, "slack_channel"), first_line)
                return "channel"
        message = f"duplicate key {key!r} (first given on line {first_line})"
        self._problem(top.key_line, (*path, key), message)
        return None

    def _problem(self, line: int, path: Path, message: str) -> None:
        self.parsed.problems.append(Problem(self.source, line, format_path(path), message))
