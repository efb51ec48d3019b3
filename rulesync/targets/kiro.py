"""`kiro`: Kiro's steering files, `.kiro/steering/<name>.md` (one folder level: a nested rule
is flattened, `frontend/react.mdc` → `frontend__react.md`).

Front matter `inclusion:` always / fileMatch (+ `fileMatchPattern`, Kiro's rooted glob
dialect: one pattern, or a list) / auto (+ `name`, `description`: Kiro includes the file when
the request fits the description) / manual (included when the user names it with
`#name`).
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

FOLDER = ".kiro/steering"


def locate(rule: SourceRule) -> str | None:
    """`.kiro/steering/<flattened path>.md`; None for a rule whose globs Kiro cannot say."""
    if rule.info.rule_type is RuleType.AUTO_ATTACHED and not rooted_globs(rule.info.globs):
        return None
    return f"{FOLDER}/{flatten(rule.stem)}.md"


def rule_file(rule: SourceRule) -> str:
    """The steering file for one rule."""
    kind = rule.info.rule_type
    entries: list[tuple[str, str | bool | Sequence[str]]] = []
    if kind is RuleType.ALWAYS:
        entries.append(("inclusion", "always"))
    elif kind is RuleType.AUTO_ATTACHED:
        globs = rooted_globs(rule.info.globs)
        entries += [
            ("inclusion", "fileMatch"),
            ("fileMatchPattern", globs[0] if len(globs) == 1 else globs),
        ]
    elif kind is RuleType.AGENT_REQUESTED:
        entries += [
            ("inclusion", "auto"),
            ("name", flatten(rule.stem)),
            ("description", rule.info.description),
        ]
    else:
        entries.append(("inclusion", "manual"))
    return front_matter(entries) + rule.text


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """One steering file per rule."""
    pairs = [(path, rule) for rule in rules if (path := locate(rule)) is not None]
    unique_paths(pairs, "kiro")
    files = {path: rule_file(rule).encode() for path, rule in pairs}
    warnings = (*encoding_warnings(rules, "kiro"), *glob_warnings(rules, "kiro"))
    return Rendered(files=files, warnings=warnings)


TARGET = Target(
    name="kiro",
    owns=(f"{FOLDER}/",),
    suffix=".md",
    render_rules=render,
    locate=locate,
    drops_loaded=True,
    reads=Reader(
        "Kiro",
        (Source("steering", f"{FOLDER}/"), Source("agents", "AGENTS.md")),
        "rooted",
        (
            Fact(
                ".kiro/steering/*.md with `inclusion`: always (the default), fileMatch with "
                "`fileMatchPattern`, auto with `name` and `description`, manual (#name)",
                "https://kiro.dev/docs/steering/",
            ),
            Fact(
                "the root AGENTS.md is included like an always steering file",
                "https://kiro.dev/docs/steering/",
                assumed=True,
            ),
        ),
    ),
)
