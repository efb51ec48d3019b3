"""One declarative shape check for rulesync's own YAML files (marker, config, tiers.yaml,
registry). A file's schema is data: its fields, each with a kind, whether it is required, a
default, the allowed values or bounds, and the schema of what it nests. `validate` walks the
parsed YAML against it and reports every problem in one shape:

    FILE:LINE: what is wrong; valid keys/values: …  (with "did you mean `x`?" when one is close)

Checks that are not about shape (an `extends` naming an earlier tier, the caps, the trust
lists) run after it, as small functions over the values it returns, using `where` for the
same `FILE:LINE:` prefix.
"""

# NamedTuples, not dataclasses, and no `from __future__ import annotations`: every command
# imports this module, and a dataclass (or a string annotation) is compiled at import.
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rulesync.errors import InvalidInput
from rulesync.names import shown_name
from rulesync.suggest import did_you_mean
from rulesync.yamlio import KeyPath, Parsed

# Every kind of value a schema describes: the classes below, some of which hold one. For the
# type checker it is their union; at run time any NamedTuple, so that no field's annotation is
# a string, which typing compiles (and the first compile in a process sets up all of `ast`, a
# few percent of a short command's start).
if TYPE_CHECKING:
    from typing import TypeAlias

    Kind: TypeAlias = "Text | Flag | Number | Choice | ListOf | MapOf | AnyOf | Schema"
else:
    Kind = tuple


class Text(NamedTuple):
    """A string (stripped of surrounding blanks); `blank` lets it be empty; `pattern`, a
    regular expression the whole string must match (`what` says it in words)."""

    what: str = "text"
    blank: bool = False
    pattern: str = ""


class Flag(NamedTuple):
    """`true` or `false`."""

    what: str = "true or false"


class Number(NamedTuple):
    """A number (never `true`/`false`), `whole` for an integer, `low` the least allowed."""

    low: float | None = None
    whole: bool = False

    @property
    def what(self) -> str:
        text = "a whole number" if self.whole else "a number"
        return text if self.low is None else f"{text} ≥ {self.low:g}"


class Choice(NamedTuple):
    """One of a fixed set of values (compared with their type: `1` is not `true`). `noun`
    names a value in messages (`unknown target `vim`; valid targets: …`)."""

    values: tuple[str | int, ...]
    noun: str = ""

    @property
    def what(self) -> str:
        return "one of " + ", ".join(str(v) for v in self.values)


class ListOf(NamedTuple):
    """A list of `item`s, given back as a tuple. `lone`: a single item stands for a list of
    one; `unique` (items of text or choices): repeats are dropped, the first kept. `noun`
    names the items in messages (`tier 2`, or `tier `basic`` when an item has a `name`)."""

    item: Kind
    what: str = "a list"
    lone: bool = False
    non_empty: bool = False
    unique: bool = False
    noun: str = ""


class MapOf(NamedTuple):
    """A mapping of free names to `value`s (the marker's `metrics`); `noun` names an entry in
    messages (`metric `developers``)."""

    value: Kind
    what: str = "a mapping of name: value"
    noun: str = ""


class AnyOf(NamedTuple):
    """The first of `kinds` the value fits."""

    kinds: tuple[Kind, ...]
    what: str


class Field(NamedTuple):
    """One key of a mapping. An absent or empty (`key:`) value takes `default` (a nested
    mapping without one: its own fields' defaults); a `required` one is an error, with
    `example` as the fix to show."""

    name: str
    kind: Kind
    default: Any = None
    required: bool = False
    example: str = ""


class Schema(NamedTuple):
    """A mapping with known keys; any other key is an error."""

    fields: tuple[Field, ...]
    what: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def describe(self) -> str:
        return self.what or f"a mapping with {', '.join(self.keys)}"


class Problem(NamedTuple):
    """One thing wrong, at a key path (its line comes from the parsed file's table)."""

    path: KeyPath
    message: str


class SchemaError(InvalidInput):
    """A file that does not fit its schema; the message is the first problem, `problems` all."""

    def __init__(self, message: str, problems: tuple[str, ...]) -> None:
        super().__init__(message)
        self.problems = problems


def where(file: Path, line: int) -> str:
    """`FILE:LINE` (or `FILE` when the line is unknown): how every message names its place."""
    return f"{file}:{line}" if line else str(file)


def validate(schema: Schema, parsed: Parsed, file: Path) -> dict[str, Any]:
    """The file's values with defaults filled in; SchemaError listing every problem when the
    parsed YAML does not fit `schema`."""
    problems: list[Problem] = []
    values = _Walk(problems).mapping(schema, parsed.data, (), "", "")
    if problems:
        lines = tuple(f"{where(file, parsed.line(*p.path))}: {p.message}" for p in problems)
        more = f" (and {len(lines) - 1} more problem(s) in this file)" if len(lines) > 1 else ""
        raise SchemaError(lines[0] + more, lines)
    assert isinstance(values, dict)
    return values


class _Bad:
    """The value of something that did not fit (its problem is already recorded)."""


_BAD = _Bad()


def shown(value: Any) -> str:
    """A user's value in a one-line message: short, quoted, control characters escaped."""
    if value == "":
        return "an empty value"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    text = str(value)
    text = text if len(text) <= 40 else text[:39] + "…"
    return f"`{shown_name(text)[1:-1]}`"


def _suggest(value: Any, choices: Sequence[str]) -> str:
    """ " (did you mean `x`?)" for a mistyped name; a value of one or two characters (`=>`) is
    too short to guess from."""
    if not isinstance(value, str) or len(value) < 3 or not choices:
        return ""
    return did_you_mean(value, choices)


def _label(context: str, key: str) -> str:
    """`tier `basic` criterion 1: op` from where the walk is and the key inside it."""
    return f"{context}: {key}" if context and key else context or key


def _dotted(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


class _Walk:
    """One pass over the data, recording problems and building the checked values."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems

    def fail(self, path: KeyPath, message: str) -> _Bad:
        self.problems.append(Problem(path, message))
        return _BAD

    def value(self, kind: Kind, value: Any, path: KeyPath, context: str, key: str) -> Any:
        """`value` checked against `kind` (`context` and `key` name it in messages)."""
        name = _label(context, key)
        match kind:
            case Schema():
                return self.mapping(kind, value, path, context, key)
            case ListOf():
                return self.sequence(kind, value, path, context, key)
            case MapOf():
                return self.free_mapping(kind, value, path, context, key)
            case AnyOf():
                return self.any_of(kind, value, path, name)
            case Choice():
                if any(type(value) is type(v) and value == v for v in kind.values):
                    return value
                names = [str(v) for v in kind.values]
                hint = _suggest(value, names)
                if kind.noun:
                    return self.fail(
                        path,
                        f"{name}: unknown {kind.noun} {shown(value)}{hint}; "
                        f"valid {kind.noun}s: {', '.join(names)}",
                    )
                return self.fail(
                    path,
                    f"{name} {shown(value)} is not valid{hint}; valid values: {', '.join(names)}",
                )
            case _:
                return self.scalar(kind, value, path, name)

    def scalar(self, kind: Text | Flag | Number, value: Any, path: KeyPath, name: str) -> Any:
        fits: bool
        match kind:
            case Text():
                if isinstance(value, str):
                    value = value.strip()
                fits = (
                    isinstance(value, str)
                    and (kind.blank or bool(value))
                    and (not kind.pattern or re.fullmatch(kind.pattern, value) is not None)
                )
            case Flag():
                fits = isinstance(value, bool)
            case Number():
                fits = (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and (not kind.whole or isinstance(value, int))
                    and (kind.low is None or value >= kind.low)
                )
        if fits:
            return value
        return self.fail(path, f"{name} must be {kind.what}, not {shown(value)}")

    def any_of(self, kind: AnyOf, value: Any, path: KeyPath, name: str) -> Any:
        for option in kind.kinds:
            trial = _Walk([])
            result = trial.value(option, value, path, "", "")
            if not trial.problems:
                return result
        choices = [str(v) for o in kind.kinds if isinstance(o, Choice) for v in o.values]
        hint = _suggest(value, choices)
        return self.fail(path, f"{name} must be {kind.what}, not {shown(value)}{hint}")

    def mapping(self, schema: Schema, value: Any, path: KeyPath, context: str, key: str) -> Any:
        """A mapping with known keys: unknown ones, missing required ones and each value."""
        name = _label(context, key)
        if not isinstance(value, dict):
            return self.fail(path, f"{name} must be {schema.describe()}, not {shown(value)}")
        fields = {f.name: f for f in schema.fields}
        prefix = f"{name}: " if name else ""
        valid = ", ".join(schema.keys)
        for item in value:
            if item not in fields:
                hint = _suggest(item, schema.keys)
                self.fail(
                    (*path, item),
                    f"{prefix}unknown key {shown(item)}{hint}; valid keys: {valid}",
                )
        checked: dict[str, Any] = {}
        for field in schema.fields:
            raw = value.get(field.name)
            if raw is None:
                if field.required:
                    example = f"; add e.g. `{field.example}`" if field.example else ""
                    self.fail(
                        (*path, field.name),
                        f"{prefix}`{field.name}:` is required ({_what(field.kind)}){example}",
                    )
                elif _all_optional(field.kind) and field.default is None:
                    raw = {}  # an absent nested mapping: its own fields' defaults
                if raw is None:
                    checked[field.name] = _fresh(field.default)
                    continue
            checked[field.name] = self.value(
                field.kind, raw, (*path, field.name), context, _dotted(key, field.name)
            )
        return checked

    def sequence(self, kind: ListOf, value: Any, path: KeyPath, context: str, key: str) -> Any:
        """A list: a lone item when allowed, then each item named by the list's noun."""
        name = _label(context, key)
        if kind.lone and not isinstance(value, list | dict):
            value = [value]
        if not isinstance(value, list) or (kind.non_empty and not value):
            got = "an empty list" if value == [] else shown(value)
            return self.fail(path, f"{name} must be {kind.what}, not {got}")
        items = []
        for index, item in enumerate(value):
            if kind.noun:
                own = item.get("name") if isinstance(item, dict) else None
                tag = shown(own) if isinstance(own, str) and own.strip() else str(index + 1)
                item_context, item_key = f"{context} {kind.noun} {tag}".lstrip(), ""
            else:
                item_context, item_key = context, f"{key} item {index + 1}"
            items.append(self.value(kind.item, item, (*path, index), item_context, item_key))
        if kind.unique and not any(i is _BAD for i in items):
            return tuple(dict.fromkeys(items))
        return tuple(items)

    def free_mapping(self, kind: MapOf, value: Any, path: KeyPath, context: str, key: str) -> Any:
        """A mapping of any names (text) to values of one kind."""
        name = _label(context, key)
        if not isinstance(value, dict):
            return self.fail(path, f"{name} must be {kind.what}, not {shown(value)}")
        checked: dict[str, Any] = {}
        for entry, item in value.items():
            if not isinstance(entry, str):
                self.fail((*path, entry), f"{name}: the name {shown(entry)} must be text")
                continue
            entry_key = f"{kind.noun} {shown(entry)}" if kind.noun else _dotted(key, entry)
            checked[entry] = self.value(kind.value, item, (*path, entry), context, entry_key)
        return checked


def _all_optional(kind: Kind) -> bool:
    """True for a nested mapping none of whose fields is required."""
    return isinstance(kind, Schema) and not any(f.required for f in kind.fields)


def _what(kind: Kind) -> str:
    """How a kind of value is described in a message."""
    if isinstance(kind, Schema):
        return kind.describe()
    return kind.what


def _fresh(default: Any) -> Any:
    """A shallow copy of a mutable default (the caller may change what it gets back); other
    defaults are immutable. (Not `copy.copy`: importing `copy` is a visible part of every
    run's cold start.)"""
    return type(default)(default) if isinstance(default, list | dict | set) else default
