"""A strict reader for the small, plain part of YAML that rulesync's own files use.

Importing PyYAML costs about 10 ms of every command's cold start (its pure-Python reader
compiles a large Unicode pattern at import even when the C parser does the work), and the
marker, config.yaml, the registry and tiers.yaml are nearly always block mappings of plain
names, numbers and one-line strings. `parse_simple` reads exactly that and gives back what
PyYAML's safe loader would (the data and the line of each key and list item); for any text
outside that subset it returns None and the caller parses with PyYAML, so every error, its
wording and its line number stay PyYAML's.

The subset: `#` comment lines and blank lines; block mappings with plain keys indented by
spaces; block sequences of scalars, of one-line flow sequences or of mappings; one-line flow
sequences of scalars; trailing ` # comments`. Scalars: plain strings, decimal integers and
floats, true/false/yes/no/on/off, null/~, single-quoted and backslash-free double-quoted
strings on one line. Anything else (tabs, anchors, aliases, tags, directives, document
markers, flow mappings, multi-line scalars, duplicate keys, a top level that is not a
mapping…) is declined.
"""

from __future__ import annotations

from typing import Any

# PyYAML's YAML 1.1 implicit resolvers, for the plain scalars this reader accepts: a plain
# scalar starting with a letter, `/`, `_` or `~` can only be a bool or a null (the number,
# date, merge and value resolvers only look at scalars starting with a digit, a sign, `.`,
# `<` or `=`).
_BOOLS = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULLS = frozenset(("null", "Null", "NULL", "~", ""))

# No regular expressions here: compiling the few this reader would need costs more than
# reading a typical file (a negated Unicode class alone takes milliseconds).
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_KEY = 128
_MAX_DIGITS = 100
# Every character PyYAML's float, int and timestamp patterns can match (the only resolvers
# for a scalar starting with a digit); a digit-led scalar with any other is a string.
_NUMBER_CHARS = frozenset("0123456789_.:+-eEbxabcdefABCDEFTtZ \tinfINFNaA")
# In a flow sequence a plain item keeps to characters with no meaning there.
_FLOW_STOP = frozenset(",[]{}:#'\"?!&*|>@`")
_MAX_DEPTH = 64

Lines = dict[tuple[str | int, ...], int]


class _NotSimple(Exception):
    """The text is outside the subset: let PyYAML read it."""


def parse_simple(text: str) -> tuple[dict[str, Any], Lines] | None:
    """The mapping in `text` and the line of each key and list item (as PyYAML's safe loader
    builds them), or None when `text` is outside the subset this reader takes."""
    if _has_refused_character(text):
        return None
    rows: list[tuple[int, int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        content = raw.lstrip(" ")
        if not content or content[0] == "#":
            continue
        rows.append((number, len(raw) - len(content), content.rstrip(" ")))
    if not rows:
        return {}, {}
    reader = _Reader(rows)
    try:
        data = reader.mapping(rows[0][1], (), 0)
        if reader.at < len(rows):
            raise _NotSimple
    except _NotSimple:
        return None
    return data, reader.lines


class _Reader:
    """Block structure over the content rows: (line number, indent, text without indent)."""

    def __init__(self, rows: list[tuple[int, int, str]]) -> None:
        self.rows = rows
        self.at = 0
        self.lines: Lines = {}

    def mapping(self, indent: int, path: tuple[str | int, ...], depth: int) -> dict[str, Any]:
        """The block mapping whose keys stand at `indent`, from the current row on."""
        if depth > _MAX_DEPTH:
            raise _NotSimple
        result: dict[str, Any] = {}
        rows = self.rows
        while self.at < len(rows):
            number, row_indent, text = rows[self.at]
            if row_indent < indent:
                break
            if row_indent > indent:
                raise _NotSimple
            key, rest = _key(text)
            if key is None or key in result:
                raise _NotSimple
            self.lines[(*path, key)] = number
            rest = rest.lstrip(" ")
            self.at += 1
            if rest and rest[0] != "#":
                result[key] = self.inline(rest, number, (*path, key))
                continue
            result[key] = None
            if self.at < len(rows):
                _, next_indent, next_text = rows[self.at]
                if next_indent > indent:
                    result[key] = self.block(next_indent, (*path, key), depth + 1)
                elif next_indent == indent and next_text[:2] == "- ":
                    # YAML lets a mapping's sequence stand at the key's own indent.
                    result[key] = self.sequence(indent, (*path, key), depth + 1)
        return result

    def block(self, indent: int, path: tuple[str | int, ...], depth: int) -> Any:
        """The block sequence or mapping nested under a `key:` line."""
        if self.rows[self.at][2][:2] == "- ":
            return self.sequence(indent, path, depth)
        return self.mapping(indent, path, depth)

    def sequence(self, indent: int, path: tuple[str | int, ...], depth: int) -> list[Any]:
        """The block sequence whose dashes stand at `indent`, from the current row on."""
        if depth > _MAX_DEPTH:
            raise _NotSimple
        result: list[Any] = []
        rows = self.rows
        while self.at < len(rows):
            number, row_indent, text = rows[self.at]
            if row_indent < indent or (row_indent == indent and text[:2] != "- "):
                break
            if row_indent > indent:
                raise _NotSimple
            item = text[2:].lstrip(" ")
            if not item or item[0] == "#" or item == "-" or item[:2] == "- ":
                raise _NotSimple
            item_path = (*path, len(result))
            self.lines[item_path] = number
            if _key(item)[0] is not None:
                # `- name: x`: a mapping whose first key stands after the dash; its other
                # keys line up under that one.
                column = row_indent + len(text) - len(item)
                self.rows[self.at] = (number, column, item)
                result.append(self.mapping(column, item_path, depth + 1))
            else:
                self.at += 1
                result.append(self.inline(item, number, item_path))
        return result

    def inline(self, text: str, number: int, path: tuple[str | int, ...]) -> Any:
        """A value written on its key's or dash's line, noting the lines of its items."""
        value = _inline(text)
        if isinstance(value, list):
            # A flow sequence's items all stand on its line.
            for index in range(len(value)):
                self.lines[(*path, index)] = number
        return value


def _inline(text: str) -> Any:
    """The value written on one line after `key: ` or `- ` (comment included)."""
    first = text[0]
    if first == "'" or first == '"':
        value, end = _quoted(text, 0)
        _comment_only(text[end:])
        return value
    if first == "[":
        return _flow(text)
    cut = text.find(" #")
    if cut >= 0:
        text = text[:cut].rstrip(" ")
    if ": " in text or text[-1] == ":":
        raise _NotSimple
    return _plain(text)


def _plain(text: str) -> Any:
    """A one-line plain scalar resolved as PyYAML's SafeLoader resolves it."""
    first = text[0]
    if first.isalpha() or first in "/_~":
        if text in _BOOLS:
            return _BOOLS[text]
        if text in _NULLS:
            return None
        return text
    sign, digits = (-1, text[1:]) if first == "-" else (1, text)
    whole, dot, fraction = digits.partition(".")
    if _decimal(whole) and (whole == "0" or whole[0] != "0"):
        if not dot:
            return sign * int(whole)
        if _decimal(fraction):
            # PyYAML takes the sign off before float(), so `-0.0` keeps its sign the same way.
            return sign * float(digits)
    if first.isdigit() and first.isascii() and not _NUMBER_CHARS.issuperset(text):
        # `24/7 on call`: a character no number or date can hold, so it is a string.
        return text
    raise _NotSimple


def _decimal(text: str) -> bool:
    return 0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit()


def _key(text: str) -> tuple[str | None, str]:
    """The plain key a `key:` line starts with (None when it has none) and what follows."""
    colon = text.find(":")
    key, rest = text[:colon], text[colon + 1 :]
    if (
        0 < colon <= _MAX_KEY
        and (key[0].isalpha() or key[0] == "_")
        and _KEY_CHARS.issuperset(key)
        and rest[:1] in ("", " ")
        and key not in _BOOLS
        and key not in _NULLS
    ):
        return key, rest
    return None, ""


def _has_refused_character(text: str) -> bool:
    """True for a character the reader refuses anywhere: one YAML does not call printable, a
    tab (indentation rules), CR or the other line breaks YAML 1.1 knows (line numbers), the
    byte order mark."""
    for char in set(text):
        if char < " ":
            if char != "\n":
                return True
        elif char > "~":
            code = ord(char)
            if (
                code < 0xA0
                or 0x2028 <= code <= 0x2029
                or 0xD800 <= code <= 0xDFFF
                or code in (0xFEFF, 0xFFFE, 0xFFFF)
            ):
                return True
    return False


def _quoted(text: str, start: int) -> tuple[str, int]:
    """A one-line quoted scalar starting at `start`, and the index after its closing quote."""
    quote = text[start]
    if quote == '"':
        end = text.find('"', start + 1)
        if end < 0 or "\\" in text[start:end]:
            raise _NotSimple
        return text[start + 1 : end], end + 1
    at = start + 1
    while True:
        end = text.find("'", at)
        if end < 0:
            raise _NotSimple
        if text[end + 1 : end + 2] != "'":
            return text[start + 1 : end].replace("''", "'"), end + 1
        at = end + 2


def _comment_only(rest: str) -> None:
    """What follows a value on its line must be nothing or a ` # comment`."""
    if rest and (rest[0] != " " or rest.lstrip(" ")[0] != "#"):
        raise _NotSimple


def _flow(text: str) -> list[Any]:
    """A flow sequence of scalars closed on its own line: `[a, 'b c', 3]` or `[]`."""
    items: list[Any] = []
    at = 1
    size = len(text)
    while True:
        while at < size and text[at] == " ":
            at += 1
        if at >= size:
            raise _NotSimple
        if text[at] == "]" and not items:
            break
        if text[at] in "'\"":
            value, at = _quoted(text, at)
        else:
            start = at
            while at < size and text[at] not in _FLOW_STOP:
                at += 1
            plain = text[start:at].rstrip(" ")
            if not plain:
                raise _NotSimple
            value = _plain(plain)
        items.append(value)
        while at < size and text[at] == " ":
            at += 1
        if at >= size:
            raise _NotSimple
        if text[at] == "]":
            break
        if text[at] != ",":
            raise _NotSimple
        at += 1
        # A trailing comma before `]` is declined rather than reasoned about.
        while at < size and text[at] == " ":
            at += 1
        if at < size and text[at] == "]":
            raise _NotSimple
    _comment_only(text[at + 1 :])
    return items
