"""`copilot`: GitHub Copilot's custom instructions.

Always rules go, in full, into rulesync's block in `.github/copilot-instructions.md` (a file
the user may also write in). Auto Attached and Agent Requested rules become
`.github/instructions/<path>.instructions.md` (Copilot reads that folder recursively, so
nested folders are kept): `applyTo:` the globs comma-joined (brace groups written out, as
a comma inside one would split the list), `description:` when the rule has one. Manual
rules are not written (Copilot has no way to ask for a rule by name). No size warning:
the 4,000-character cap Copilot code review once had is no longer documented.
`applyTo` carries each Cursor glob translated to Copilot's rooted dialect (`*.py` →
`**/*.py`, see `rulesync.globs`).
"""

from __future__ import annotations

from collections.abc import Sequence

from rulesync.globs import expand_braces, rooted_globs
from rulesync.mdc import RuleType
from rulesync.targets.base import (
    Fact,
    Locator,
    Reader,
    Rendered,
    Source,
    SourceRule,
    Target,
    encoding_warnings,
    front_matter,
    glob_warnings,
    rule_files,
)
from rulesync.targets.blocks import escape_markers

INSTRUCTIONS = ".github/copilot-instructions.md"
FOLDER = ".github/instructions"


def flat_globs(rule: SourceRule) -> list[str]:
    """The rule's globs in Copilot's dialect (`rulesync.globs.translate`) with brace groups
    written out, for a comma-joined list."""
    globs: list[str] = []
    for glob in rooted_globs(rule.info.globs):
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
    if kind is RuleType.AUTO_ATTACHED and not flat_globs(rule):
        return None  # no glob Copilot can say: without `applyTo` it would mean another thing
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
        warnings=(*encoding_warnings(rules, "copilot"), *glob_warnings(rules, "copilot")),
    )


TARGET = Target(
    name="copilot",
    owns=(INSTRUCTIONS, f"{FOLDER}/"),
    suffix=".instructions.md",
    render_rules=render,
    locate=locate,
    reads=Reader(
        "Copilot (VS Code)",
        (
            Source("whole", INSTRUCTIONS),
            Source("apply-to", f"{FOLDER}/"),
            Source("agents", "AGENTS.md"),
            Source("paths-rules", ".claude/rules/"),
        ),
        "rooted",
        (
            Fact(
                ".github/copilot-instructions.md applies to every request; "
                ".github/instructions/**/*.instructions.md when a file matches `applyTo` "
                "(comma-separated; `*.py` is the root folder's only)",
                "https://docs.github.com/en/copilot/how-tos/configure-custom-instructions-in-your-ide/add-repository-instructions-in-your-ide",
            ),
            Fact(
                "VS Code also reads the root AGENTS.md and .claude/rules (a rule without "
                "`paths` applies to `**`)",
                "https://code.visualstudio.com/docs/copilot/customization/custom-instructions",
                assumed=True,
            ),
            Fact(
                "Copilot code review's 4,000-character cut is no longer in GitHub's docs: "
                "not modelled",
                "https://github.com/github/docs/issues/42761",
            ),
        ),
    ),
)
