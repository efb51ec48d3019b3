"""What a library may call a rule: the one check that `apply` enforces and `lint` reports.

A folder entry is one of three things: an editor's dropping or a hidden file (ignored by
everyone, so editing a library rule never stops the service), a rule (`*.mdc`), or anything
else (a README, a picture: not a rule). A rule's name must be one that every later step can
write: plain, valid UTF-8, no control characters, short enough for the temporary name beside it.
"""

from __future__ import annotations

import re
import unicodedata

from rulesync.hidden import HIDDEN, escape_char

RULE_SUFFIX = ".mdc"
# A file system allows 255 bytes per name; the temporary file written beside a rule adds a
# prefix and a suffix, so a rule's own name stays well under that.
MAX_RULE_NAME_BYTES = 200
# C0, DEL, C1 (NEL among them) and the Unicode line and paragraph separators: each breaks a
# line somewhere (a commit message's trailers, a log line) or acts on a terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What a terminal would act on or not show: the hidden characters, and a carriage return
# that does not end a line (it would let the rest of the line overwrite its start). Compiled
# when first used (`re` keeps it): most text printed is plain ASCII.
_UNPRINTABLE = f"{HIDDEN.pattern}|\r(?!\n)"
# A byte that is not UTF-8, as os.listdir gives it (surrogateescape).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
# Lock, swap and backup files of Emacs, vim and others, and Finder's folder settings.
_DROPPING = re.compile(r"^(\.#.*|#.*#|.*~|\..*\.sw[a-p]|4913|\.DS_Store|\._.*)$")


# Device names Windows keeps for itself, with any extension (`CON.mdc` is the console there).
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)}
)
# A file system allows this many bytes in one name: a target's file name (a nested rule's
# flattened name included) must fit, or the write fails half way through a sync.
NAME_MAX = 255


def collision_key(relative: str) -> str:
    """What a path is on a file system that ignores case and Unicode normalisation (macOS,
    Windows): two paths with one key are one file there."""
    return unicodedata.normalize("NFC", relative).casefold()


def is_ignored_entry(name: str) -> bool:
    """True for an editor's dropping or a hidden file: never a rule, never an error."""
    return name.startswith(".") or bool(_DROPPING.match(name))


def is_rule_candidate(name: str) -> bool:
    """True for a folder entry that is meant as a rule (a `*.mdc` that is not ignored)."""
    return name.endswith(RULE_SUFFIX) and not is_ignored_entry(name)


def part_problem(name: str) -> str | None:
    """Why `name` cannot be one part of a rule's path, a tier's subfolder or the rule file
    itself (None when it can). One line, lower case."""
    # os.listdir hands undecodable bytes over as lone surrogates (surrogateescape).
    if not name.isascii() and _ESCAPED_BYTE.search(name):
        return "its name is not valid UTF-8"
    if "/" in name or "\\" in name:
        return "its name holds a path separator"
    if ".." in name:
        return "its name holds `..`"
    if has_control(name):
        return "its name holds a control character"
    if HIDDEN.search(name):
        return "its name holds an invisible character"
    if len(name.encode("utf-8")) > MAX_RULE_NAME_BYTES:
        return f"its name is longer than {MAX_RULE_NAME_BYTES} bytes"
    if name.split(".")[0].rstrip(" ").upper() in _RESERVED:
        return "its name is a device name Windows reserves (CON, NUL, COM1…)"
    if name.endswith((".", " ")):
        return "its name ends in a dot or a space, which Windows drops"
    return None


def rule_name_problem(name: str) -> str | None:
    """Why a rule candidate's name cannot be used (None when it can). One line, lower case."""
    problem = part_problem(name)
    if problem is None and (not name.endswith(RULE_SUFFIX) or len(name) <= len(RULE_SUFFIX)):
        return f"a rule's name is a plain `*{RULE_SUFFIX}` file name"
    return problem


def has_control(text: str) -> bool:
    """True when `text` holds a control character (a line break, a tab, an escape…) or a
    Unicode line or paragraph separator (U+0085, U+2028, U+2029)."""
    return _CONTROL.search(text) is not None


def valid_rule_name(name: str) -> bool:
    """True when `name` is a rule name apply accepts (and not an ignored entry)."""
    return not is_ignored_entry(name) and rule_name_problem(name) is None


def printable(text: str) -> str:
    """`text` fit to print on a terminal: a file name's bytes that are not UTF-8 (kept by the
    file system as lone surrogates) become `\\xNN` escapes of those bytes, and control,
    escape and invisible characters (`rulesync.hidden`) become escapes (`\\x1b`, `\\u200b`);
    line breaks and tabs stay. Everything rulesync prints passes through it."""
    if text.isascii() and text.isprintable():
        return text
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return re.sub(_UNPRINTABLE, lambda m: escape_char(m.group()), text)


def shown_name(name: str) -> str:
    """`name` quoted for a one-line message: control characters escaped, and bytes that are
    not UTF-8 shown as `\\xNN` (not as the lone surrogates os.listdir gives)."""
    text = printable(name)
    # repr doubles the backslash backslashreplace wrote; a real one is refused anyway.
    return repr(text).replace("\\\\x", "\\x")
