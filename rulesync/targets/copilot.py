"""`copilot`: GitHub Copilot's custom instructions.

Always rules go, in full, into rulesync's block in `.github/copilot-instructions.md` (a file
the user may also write in). Auto Attached and Agent Requested rules become
`.github/instructions/<path>.instructions.md` (Copilot reads that folder recursively, so
nested folders are kept): `applyTo:` the globs comma-joined (brace groups written out, as
a comma inside one would split the list), `description:` when the rule has one. Manual
rules are not written (Copilot has no way to ask for a rule by name). Copilot code review
reads only the first 4,000 characters of an instruction file: warned.
"""

from __future__ import annotations

from collections.abc import Sequence

from rulesync.mdc import RuleType
from rulesync.targets.base import (
    Locator,
    Rendered,
    SourceRule,
    Target,
    encoding_warnings,
    flat_globs,
    front_matter,
)
from rulesync.targets.blocks import escape_markers

INSTRUCTIONS = ".github/copilot-instructions.md"
FOLDER = ".github/instructions"
REVIEW_CHARS = 4_000


def locate(rule: SourceRule) -> str | None:
    """Where Copilot reads the rule's full text, or None for a Manual rule."""
    kind = rule.info.rule_type
    if kind is RuleType.MANUAL:
        return None
    if kind is RuleType.ALWAYS:
        return INSTRUCTIONS
    return f"{FOLDER}/{rule.stem}.instructions.md"


def rule_file(rule: SourceRule) -> str:
    """The `.instructions.md` for an Auto Attached or Agent Requested rule."""
    entries: list[tuple[str, str | Sequence[str]]] = []
    if rule.info.rule_type is RuleType.AUTO_ATTACHED:
        entries.append(("applyTo", ",".join(flat_globs(rule))))
    if rule.info.description:
        entries.append(("description", rule.info.description))
    return front_matter(entries) + rule.text


def always_block(rules: Sequence[SourceRule]) -> str:
    """The Always rules' full text, each under a comment naming it."""
    parts = [
        f"<!-- rule: {rule.stem} -->\n{escape_markers(rule.text)}"
        for rule in rules
        if rule.info.rule_type is RuleType.ALWAYS and rule.text
    ]
    return "\n".join(parts)


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """The block of Always rules plus one instructions file per scoped rule."""
    files: dict[str, bytes] = {}
    warnings = encoding_warnings(rules, "copilot")
    texts: dict[str, str] = {}
    for rule in rules:
        path = locate(rule)
        if path is not None and path != INSTRUCTIONS:
            texts[path] = rule_file(rule)
    block = always_block(rules)
    if block:
        texts[INSTRUCTIONS] = block
    for path, text in sorted(texts.items()):
        if len(text) > REVIEW_CHARS:
            what = "rulesync's block" if path == INSTRUCTIONS else "the file"
            warnings.append(
                f"{path}: {what} is {len(text):,} characters; Copilot code review reads only "
                f"the first {REVIEW_CHARS:,} of an instruction file"
            )
        if path != INSTRUCTIONS:
            files[path] = text.encode()
    blocks = {INSTRUCTIONS: block.encode()} if block else {}
    return Rendered(files=files, blocks=blocks, warnings=tuple(warnings))


TARGET = Target(name="copilot", folders=(".github", FOLDER), render_rules=render, locate=locate)
