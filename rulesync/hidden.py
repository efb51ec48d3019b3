"""Characters a reader does not see: the one scan for text that becomes an assistant's rules.

Rules are instructions to an AI, and rulesync copies one library into every project. Text an
editor or a review does not show can carry instructions the reviewer never read (the "rules
file backdoor"). These are refused in a rule and in anything rulesync writes from rules,
unless the library's `tiers.yaml` lists the rule under `allow_hidden_characters`:

- every character of Unicode's format category (Cf): the zero-width characters
  U+200B–U+200F, U+2060–U+2064, the bidirectional controls U+202A–U+202E and U+2066–U+2069,
  U+FEFF (except as a file's first character, a byte order mark), the tag characters
  U+E0000–U+E007F, the soft hyphen U+00AD and the rest of the category;
- control characters other than tab, line feed and carriage return (C0, DEL and C1), which
  a terminal acts on instead of showing;
- the line and paragraph separators U+2028 and U+2029;
- characters drawn as blank space that are letters or marks by category: the Hangul fillers
  (U+115F, U+1160, U+3164, U+FFA0), the combining grapheme joiner U+034F and the variation
  selectors U+E0100–U+E01EF (a run of them encodes bytes after a visible character).

Each is shown escaped (`\\u200b`) wherever rulesync prints it.
"""

import re
from typing import NamedTuple

# Unicode 15's format characters (category Cf), listed so no table is built at start-up;
# tests check the list against the running Python's `unicodedata`.
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BLANK_LOOKING = "\u034f\u115f\u1160\u3164\uffa0\U000e0100-\U000e01ef\u2028\u2029"
HIDDEN = re.compile(f"[{_FORMAT}{_CONTROL}{_BLANK_LOOKING}]")
BOM = "\ufeff"
ALLOW_KEY = "allow_hidden_characters"


class Hidden(NamedTuple):
    """One hidden character: where (1-based line and column, in characters) and which."""

    line: int
    column: int
    char: str

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        import unicodedata  # only a finding needs it

        return unicodedata.name(self.char, "") or "CONTROL CHARACTER"

    def describe(self) -> str:
        """`U+200B ZERO WIDTH SPACE`."""
        return f"{self.code_point} {self.name}"


# Every byte of visible ASCII text: never a hidden character, never part of a longer one.
_SHOWN_ASCII = bytes((0x09, 0x0A, 0x0D, *range(0x20, 0x7F)))


def may_hold(data: bytes) -> bool:
    """False when `data` surely holds no hidden character: the scan reads only what is left
    once every visible ASCII byte is dropped (usually nothing). A UTF-8 character's bytes are
    all non-ASCII, so dropping ASCII bytes keeps each character whole; True is only a maybe."""
    rest = data.translate(None, _SHOWN_ASCII)
    return bool(rest) and HIDDEN.search(rest.decode("utf-8", "replace")) is not None


def find(text: str, *, limit: int = 0, allowed: frozenset[str] = frozenset()) -> list[Hidden]:
    """The hidden characters in `text` (at most `limit`, 0: all), but those in `allowed`; a
    byte order mark as the first character is not one."""
    found: list[Hidden] = []
    if not may_hold(text.encode("utf-8", "surrogatepass")):
        return found
    start = 1 if text.startswith(BOM) else 0
    for match in HIDDEN.finditer(text, start):
        if match.group() in allowed:
            continue
        at = match.start()
        line_start = text.rfind("\n", 0, at) + 1
        found.append(Hidden(text.count("\n", 0, at) + 1, at - line_start + 1, match.group()))
        if limit and len(found) >= limit:
            break
    return found


def escape_char(char: str) -> str:
    """`\\u200b`, `\\x1b` or `\\U000e0041`: how one character is shown."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape(text: str) -> str:
    """`text` with each hidden character written as its escape."""
    return HIDDEN.sub(lambda m: escape_char(m.group()), text)


def decode(data: bytes) -> str:
    """A rule's bytes as text for the scan (bytes that are not UTF-8 are left to the rule's
    own checks)."""
    return data.decode("utf-8", "replace")


def chars(text: str) -> frozenset[str]:
    """The distinct hidden characters in `text`."""
    return frozenset(HIDDEN.findall(text))


def refusal(
    where: str, data: bytes, rule: str = "", allowed: frozenset[str] = frozenset()
) -> str | None:
    """The one-line refusal for a rule's (or a written file's) bytes holding a hidden
    character (but those `allowed`), naming `where:line:col` and the code point; None when
    there is none."""
    if not may_hold(data):
        return None
    first = find(decode(data), limit=1, allowed=allowed)
    if not first:
        return None  # only a leading byte order mark
    hit = first[0]
    allow = f"list `{rule}` under `{ALLOW_KEY}` in the library's tiers.yaml" if rule else ""
    return (
        f"{where}:{hit.line}:{hit.column}: holds {hit.describe()}, an invisible character "
        "that can hide instructions from a review; remove it"
        + (f", or {allow} to accept it" if allow else "")
    )


# A file made of hidden characters is reported by its first few, and a count.
MAX_REPORTED = 20


def is_hidden_finding(message: str) -> bool:
    """True for a message `findings_text` made."""
    return message.endswith((f"(`{ALLOW_KEY}`)", "more hidden character(s)"))


def findings_text(text: str) -> list[tuple[int, str]]:
    """(line, message) for each hidden character in a rule's text, at most MAX_REPORTED and a
    last line counting the rest: what `rulesync lint` reports as errors."""
    found = find(text, limit=MAX_REPORTED + 1)
    lines = [
        (
            h.line,
            f"column {h.column}: {h.describe()} ({escape_char(h.char)}) is invisible: it can "
            f"hide instructions from a review; remove it or allow the rule in tiers.yaml "
            f"(`{ALLOW_KEY}`)",
        )
        for h in found[:MAX_REPORTED]
    ]
    if len(found) > MAX_REPORTED:
        rest = len(find(text)) - MAX_REPORTED
        lines.append((found[MAX_REPORTED].line, f"and {rest} more hidden character(s)"))
    return lines
