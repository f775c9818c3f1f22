"""Turn pydantic validation errors into plain messages with file:line and the field path."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from sqlsentinel.config import models as m
from sqlsentinel.config.parsed import Parsed, Path
from sqlsentinel.notify.channels import CHANNELS, config_models


def report(exc: ValidationError, prefix: Path, parsed: Parsed, source: str) -> None:
    errors = [
        (err, _clean_loc(prefix + tuple(err["loc"]), parsed.data))
        for err in exc.errors(include_url=False)
    ]
    # A misspelt key is reported once, as unknown with a did-you-mean, not also as missing.
    suggested = {
        (loc[:-1], hint)
        for err, loc in errors
        if err["type"] == "extra_forbidden"
        for hint in _close_key(str(loc[-1]), _known_keys(loc, parsed.data))
    }
    for err, loc in errors:
        if err["type"] == "missing" and (loc[:-1], loc[-1]) in suggested:
            continue
        if err["type"] == "union_tag_invalid":
            loc = (*loc, "channel")
        message = _message(err, loc, parsed.data)
        parsed.report(source, loc, message)


def _close_key(key: str, known: list[str]) -> list[str]:
    return difflib.get_close_matches(key, known, n=1, cutoff=0.6)


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Path:
    """Drop pydantic's union-tag elements so the path matches the file."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part in CHANNELS:
            continue
        if part in m.ENTRY_TAGS or (
            isinstance(part, str) and part.startswith(("function-", "list[", "dict["))
        ):
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part) if isinstance(part, str) else None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _known_keys(loc: Path, data: Any) -> list[str]:
    parent = loc[:-1]
    shape = tuple("#" if isinstance(p, int) else p for p in parent)
    if len(shape) == 3 and shape[0] == "receivers":
        shape = ("defaults", "notify", "#")
    if shape in {("alerts", "#", "notify", "#"), ("defaults", "notify", "#")}:
        node = data
        for p in parent:
            node = node[p]
        tag = node.get("channel") if isinstance(node, dict) else None
        models = dict(zip(CHANNELS, config_models(), strict=True))
        return _keys_of(models.get(str(tag), models[CHANNELS[-1]]))
    table: dict[tuple[Any, ...], type[BaseModel]] = {
        (): m.ConfigModel,
        ("alerts", "#"): m.AlertModel,
        ("defaults",): m.DefaultsModel,
        ("database",): m.DatabaseModel,
        ("smtp",): m.SmtpModel,
        ("policy", "#"): m.PolicyRuleModel,
        ("policy", "#", "match"): m.MatchModel,
    }
    if len(shape) == 2 and shape[0] == "databases":
        return _keys_of(m.DatabaseModel)
    model = table.get(shape)
    return _keys_of(model) if model else []


def _message(err: Any, loc: Path, data: Any) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _known_keys(loc, data)
        close = _close_key(key, known)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else (f"; known keys: {', '.join(sorted(known))}" if known else "")
        )
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"missing required key {str(loc[-1])!r}"
    if kind == "union_tag_invalid":
        return f"unknown channel {err['ctx']['tag']!r}; expected one of {', '.join(CHANNELS)}"
    if kind == "union_tag_not_found":
        entry = value if isinstance(value, dict) else {}
        typo = _close_key("channel", [str(k) for k in entry])
        hint = f"; is {typo[0]!r} a misspelling of it?" if typo else ""
        return f"missing 'channel' ({', '.join(CHANNELS[:-1])} or {CHANNELS[-1]}){hint}"
    if kind == "too_short" and loc == ("alerts",):
        return "needs at least one alert"
    if kind in {"too_short", "string_too_short"}:
        return "must not be empty"
    if kind in {"bool_type", "bool_parsing"}:
        return f"must be true or false, not {_shown(value)}"
    if kind == "list_type" and loc and loc[-1] in {"tags", "recipients"}:
        return f"must be text or a list of text, not {_shown(value)}"
    if kind == "list_type":
        return f"must be a list (one '- ' line per entry), not {_shown(value)}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"must be a mapping (key: value lines), not {_shown(value)}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be a whole number, not {_shown(value)}"
    if kind in {"float_type", "float_parsing"}:
        return f"must be a number, not {_shown(value)}"
    if kind == "string_type":
        quote = " (put it in quotes)" if isinstance(value, int | float) else ""
        return f"must be text, not {_shown(value)}{quote}"
    if kind in {"value_error", "assertion_error"}:
        return str(msg).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = str(msg).replace("Input should be", "must be")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "literal_error":
        text += f", not {_shown(value)}"
    return text


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)
