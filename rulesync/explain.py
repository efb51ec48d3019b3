"""Which rules attach to a file, and what a tier costs on every request: pure functions.
(What each assistant really loads, from the files a project holds, is `rulesync.reading`.)

Globs are matched the way Cursor matches them, which follows `.gitignore`: a pattern without a
`/` matches the file's name in any folder (`*.py` matches `src/api/app.py`); a pattern with a
`/` is anchored at the project root (`src/*.py` does not match `src/api/app.py`); `**` spans
any number of folders, `*` and `?` stay within one; a pattern naming a folder matches every
file under it. Quote characters and braces are literal (Cursor keeps quotes, and lint asks for
comma-separated patterns instead of braces), so a quoted glob matches nothing here either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from rulesync.globs import glob_matches
from rulesync.mdc import RuleInfo, RuleType
from rulesync.targets.base import CURSOR_ATTACH, Attach, How

# In the model's context: always, by a matching glob, or from two files at once.
ATTACHED = (How.ALWAYS, How.GLOB, How.TWICE)


class Attachment(NamedTuple):
    """One rule's verdict for one file; `glob` is the pattern that matched (How.GLOB, or a
    listed Auto Attached rule)."""

    name: str
    how: How
    glob: str = ""
    # Set when the target treats the rule otherwise than Cursor would (its Cursor type).
    rule_type: RuleType | None = None

    @property
    def why(self) -> str:
        """The reason in words, e.g. "glob `src/**/*.py` matched"."""
        # Only a target that brings the rule otherwise than Cursor sets rule_type.
        if self.rule_type is not None and self.how is How.ALWAYS:
            return f"always (its {self.rule_type.value} rule is loaded in every request)"
        if self.rule_type is not None and self.how is How.REQUESTABLE:
            if self.glob:
                return f"listed with its globs, `{self.glob}` matched: the model is told to read it"
            return f"listed with its trigger ({self.rule_type.value}): requestable"
        return {
            How.ALWAYS: "always (alwaysApply: true)",
            How.GLOB: f"glob `{self.glob}` matched",
            How.REQUESTABLE: "description only: requestable (the model may fetch it)",
            How.MANUAL: "manual (only when @-mentioned)",
            How.NOT_ATTACHED: "globs did not match",
            How.NOT_WRITTEN: "not written (this assistant cannot ask for a rule by name)",
            How.SHADOWED: "shadowed (a file this assistant reads instead hides the one holding it)",
            How.TRUNCATED: "truncated (past the tool's size cut)",
            How.TWICE: "loaded twice (its text is in two files this assistant reads)",
            How.LOST: "lost (no file this assistant reads holds it)",
            How.UNTRANSLATABLE: "untranslatable (a glob this tool's dialect cannot say)",
        }[self.how]


class Cost(NamedTuple):
    """What one rule adds to every request: its full text (Always) or its description."""

    name: str
    loads: str
    bytes: int
    tokens: int


def explain_file(
    rules: Mapping[str, RuleInfo], path: str, attach: Attach = CURSOR_ATTACH
) -> list[Attachment]:
    """Each rule's verdict for `path` as a target that brings rules `attach`'s way treats it:
    attached ones first (always, then glob), then requestable, manual, not attached and not
    written, by name within each."""
    verdicts: list[Attachment] = []
    for name, info in rules.items():
        kind = info.rule_type
        how = attach[kind]
        other = None if how is CURSOR_ATTACH[kind] else kind
        matched = ""
        if kind is RuleType.AUTO_ATTACHED:
            matched = next((g for g in info.cursor_globs if glob_matches(g, path)), "")
        if how is How.GLOB and not matched:
            how = How.NOT_ATTACHED
        # A target that only lists an Auto Attached rule still says whether its globs match.
        verdicts.append(Attachment(name, how, matched if how is How.GLOB or other else "", other))
    order = list(How)
    return sorted(verdicts, key=lambda a: (order.index(a.how), a.name))


def estimate_tokens(text: str) -> int:
    """An estimate of the tokens `text` costs: ASCII characters / 4, plus one per other
    character (a Hangul syllable or other non-Latin letter is about one token, not a quarter)."""
    ascii_chars = len(text.encode("ascii", errors="ignore"))
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def cost(name: str, loads: str, text: str) -> Cost:
    """What loading `text` on every request costs."""
    return Cost(name, loads, len(text.encode("utf-8")), estimate_tokens(text))


def always_on(
    rules: Mapping[str, RuleInfo],
    attach: Attach = CURSOR_ATTACH,
    full_texts: Mapping[str, str] | None = None,
) -> list[Cost]:
    """What every request loads: the full text of each rule the target brings always (its
    body, or what `full_texts` gives for it) and the description of each requestable one,
    largest first."""
    costs: list[Cost] = []
    for name, info in rules.items():
        how = attach[info.rule_type]
        if how is How.ALWAYS:
            full = (full_texts or {}).get(name, info.body)
            text, loads = full.strip(), "full text"
        elif how is How.REQUESTABLE:
            text, loads = info.description, "description"
        else:
            continue
        costs.append(cost(name, loads, text))
    return sorted(costs, key=lambda c: (-c.tokens, c.name))


def total_tokens(costs: list[Cost]) -> int:
    """The sum of the costs' estimated tokens."""
    return sum(c.tokens for c in costs)
