"""`copilot`: GitHub Copilot's custom instructions.

Always rules go, in full, into rulesync's block in `.github/copilot-instructions.md` (a file
the user may also write in). Auto Attached and Agent Requested rules become
`.github/instructions/<path>.instructions.md` (Copilot reads that folder recursively, so
nested folders are kept): `applyTo:` the globs comma-joined (brace groups written out, as
a comma inside one would split the list), `description:` when the rule has one. Manual
rules are not written (Copilot has no way to ask for a rule by name). No size warning:
the 4,000-character cap Copilot code review once had is no longer documented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rulesync.mdc import RuleType
from rulesync.targets.base import (
    How,
    Locator,
    Rendered,
    SourceRule,
    Target,
    encoding_warnings,
    front_matter,
    rule_files,
)
from rulesync.targets.blocks import escape_markers

INSTRUCTIONS = ".github/copilot-instructions.md"
FOLDER = ".github/instructions"
_BRACE = re.compile(r"\{([^{}]*)\}")


def expand_braces(glob: str) -> list[str]:
    """`src/{a,b}/*.ts` → `src/a/*.ts`, `src/b/*.ts`: for tools that split a glob list on
    commas, where a brace group's comma would cut one pattern in two."""
    match = _BRACE.search(glob)
    if match is None or "," not in match.group(1):
        return [glob]
    head, tail = glob[: match.start()], glob[match.end() :]
    expanded: list[str] = []
    for option in match.group(1).split(","):
        for item in expand_braces(head + option + tail):
            if item not in expanded:
                expanded.append(item)
    return expanded


def flat_globs(rule: SourceRule) -> list[str]:
    """The rule's globs with brace groups written out, for a comma-joined list."""
    globs: list[str] = []
    for glob in rule.info.globs:
        for item in expand_braces(glob):
            if item not in globs:
                globs.append(item)
    return globs


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
        for rule in sorted(rules, key=lambda r: r.path)
        if rule.info.rule_type is RuleType.ALWAYS and rule.text
    ]
    return "\n".join(parts)


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """The block of Always rules plus one instructions file per scoped rule."""
    files = rule_files(rules, locate, rule_file, skip=frozenset({INSTRUCTIONS}))
    block = always_block(rules)
    return Rendered(
        files=files,
        blocks={INSTRUCTIONS: block.encode()} if block else {},
        warnings=tuple(encoding_warnings(rules, "copilot")),
    )


TARGET = Target(
    name="copilot",
    owns=(INSTRUCTIONS, f"{FOLDER}/"),
    suffix=".instructions.md",
    render_rules=render,
    locate=locate,
    # Copilot offers an instructions file with a description but no `applyTo` to the model.
    attach={
        RuleType.ALWAYS: How.ALWAYS,
        RuleType.AUTO_ATTACHED: How.GLOB,
        RuleType.AGENT_REQUESTED: How.REQUESTABLE,
        RuleType.MANUAL: How.NOT_WRITTEN,
    },
)
