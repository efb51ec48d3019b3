"""`claude`: Claude Code's project rules, `.claude/rules/<path>.md`, nested folders kept
(Claude Code reads `.claude/rules` recursively), and skills, `.claude/skills/<name>/SKILL.md`.

Claude Code's rule front matter knows one key, `paths` (a YAML list of globs); a rule
without it is loaded in every session. So: Always → no front matter; Auto Attached →
`paths:` with each glob in Claude Code's rooted dialect (`*.py` → `**/*.py`; brace groups
kept: Claude Code expands them). Claude Code's description-triggered mechanism is the skill:
its `description` is in every session and its body is read when the task fits. So: Agent
Requested → a skill; Manual → a skill with `disable-model-invocation: true` (only `/name`
loads it).
"""

from __future__ import annotations

import re
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
    front_matter,
    glob_warnings,
    rule_files,
    unique_paths,
)

FOLDER = ".claude/rules"
SKILLS = ".claude/skills"
_NOT_SKILL_NAME = re.compile(r"[^a-z0-9]+")


def skill_name(rule: SourceRule) -> str:
    """A skill's name as Claude Code takes it (lowercase letters, digits and hyphens, at
    most 64): `frontend/React_Hooks` → `frontend-react-hooks`."""
    name = _NOT_SKILL_NAME.sub("-", rule.stem.lower()).strip("-")[:64].strip("-")
    return name or "rule"


def locate(rule: SourceRule) -> str | None:
    """`.claude/rules/<path>.md` for an Always or Auto Attached rule,
    `.claude/skills/<name>/SKILL.md` for an Agent Requested or Manual one; None for a rule
    whose globs Claude Code cannot say (without `paths` it would load everywhere)."""
    kind = rule.info.rule_type
    if kind in (RuleType.AGENT_REQUESTED, RuleType.MANUAL):
        return f"{SKILLS}/{skill_name(rule)}/SKILL.md"
    if kind is RuleType.AUTO_ATTACHED and not rooted_globs(rule.info.globs):
        return None
    return f"{FOLDER}/{rule.stem}.md"


def rule_file(rule: SourceRule) -> str:
    """The Markdown Claude Code reads for one rule: a rule file, or a skill."""
    kind = rule.info.rule_type
    if kind is RuleType.AUTO_ATTACHED:
        return front_matter([("paths", rooted_globs(rule.info.globs))]) + rule.text
    if kind is RuleType.AGENT_REQUESTED:
        entries = [("name", skill_name(rule)), ("description", rule.info.description)]
        return front_matter(entries) + rule.text
    if kind is RuleType.MANUAL:
        return (
            front_matter(
                [
                    ("name", skill_name(rule)),
                    ("description", f"The {rule.stem} rule, used only when asked for by name"),
                    ("disable-model-invocation", True),
                ]
            )
            + rule.text
        )
    return rule.text


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """One `.md` per Always and Auto Attached rule, one skill per other rule."""
    pairs = [(path, rule) for rule in rules if (path := locate(rule)) is not None]
    unique_paths(pairs, "claude")
    files = rule_files(rules, locate, rule_file)
    warnings = (*encoding_warnings(rules, "claude"), *glob_warnings(rules, "claude"))
    return Rendered(files=files, warnings=warnings)


TARGET = Target(
    name="claude",
    owns=(f"{FOLDER}/", f"{SKILLS}/"),
    suffix=".md",
    render_rules=render,
    locate=locate,
    drops_loaded=True,
    reads=Reader(
        "Claude Code",
        (
            Source("claude-md", "CLAUDE.md", nested=True),
            Source("paths-rules", f"{FOLDER}/"),
            Source("skills", ".claude/skills/"),
        ),
        "rooted",
        (
            Fact(
                "CLAUDE.md and .claude/CLAUDE.md (root and the folders above the file) are "
                "read whole; `@path` imports are expanded (at most 5 hops)",
                "https://code.claude.com/docs/en/memory",
            ),
            Fact(
                ".claude/rules/**/*.md: a rule with `paths` loads when a matching file is "
                "read, one without loads every session; `*.md` is the root folder's only; "
                "brace groups expand",
                "https://code.claude.com/docs/en/memory",
            ),
            Fact(
                "AGENTS.md is read only when there is no CLAUDE.md, .claude/CLAUDE.md or "
                "CLAUDE.local.md (default of the project-instructions setting)",
                "https://www.developersdigest.tech/reference/instruction-files",
            ),
            Fact(
                ".claude/skills/<name>/SKILL.md: the description is always in context and the "
                "body loads when the task fits; `disable-model-invocation: true` only by /name",
                "https://code.claude.com/docs/en/skills",
            ),
        ),
    ),
)
