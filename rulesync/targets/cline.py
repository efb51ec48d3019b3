"""`cline`: Cline's rules, `.clinerules/<name>.md` (one folder level: a nested rule is
flattened, `frontend/react.mdc` → `frontend__react.md`).

A rule file without front matter applies to every task; one with `paths:` (a YAML list, the
rooted glob dialect) only when the task touches a matching file. Cline has no description
trigger and no rule asked for by name: Agent Requested and Manual rules are not written
here (AGENTS.md, which Cline also reads, lists them with the path of their text; without
the `agents` target apply says they are lost for Cline).
"""

from __future__ import annotations

from collections.abc import Sequence

from rulesync.globs import rooted_globs
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
    flatten,
    front_matter,
    glob_warnings,
    unique_paths,
)

FOLDER = ".clinerules"


def locate(rule: SourceRule) -> str | None:
    """`.clinerules/<flattened path>.md` for an Always or Auto Attached rule Cline can say."""
    kind = rule.info.rule_type
    if kind is RuleType.ALWAYS or (
        kind is RuleType.AUTO_ATTACHED and rooted_globs(rule.info.globs)
    ):
        return f"{FOLDER}/{flatten(rule.stem)}.md"
    return None


def rule_file(rule: SourceRule) -> str:
    """The rule file: the text, under `paths:` for an Auto Attached rule."""
    if rule.info.rule_type is RuleType.AUTO_ATTACHED:
        return front_matter([("paths", rooted_globs(rule.info.globs))]) + rule.text
    return rule.text


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """One rule file per Always and Auto Attached rule."""
    pairs = [(path, rule) for rule in rules if (path := locate(rule)) is not None]
    unique_paths(pairs, "cline")
    files = {path: rule_file(rule).encode() for path, rule in pairs}
    warnings = (*encoding_warnings(rules, "cline"), *glob_warnings(rules, "cline"))
    return Rendered(files=files, warnings=warnings)


TARGET = Target(
    name="cline",
    owns=(f"{FOLDER}/",),
    suffix=".md",
    render_rules=render,
    locate=locate,
    drops_loaded=True,
    reads=Reader(
        "Cline",
        (Source("paths-rules", f"{FOLDER}/"), Source("agents", "AGENTS.md")),
        "rooted",
        (
            Fact(
                ".clinerules/*.md: a rule with `paths` front matter applies when the task's "
                "files match, one without to every task",
                "https://docs.cline.bot/features/cline-rules/conditional-rules",
            ),
            Fact(
                "AGENTS.md is read beside .clinerules (each can be toggled)",
                "https://www.mintlify.com/cline/cline/customization/cline-rules",
            ),
        ),
    ),
)
