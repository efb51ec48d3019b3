"""`claude`: Claude Code's project rules, `.claude/rules/<path>.md`, nested folders kept
(Claude Code reads `.claude/rules` recursively).

Claude Code's rule front matter knows one key, `paths` (a YAML list of globs); a rule
without it is loaded in every session. So: Always → no front matter; Auto Attached →
`paths:` with each glob quoted (brace groups kept: Claude Code expands them); Agent
Requested → loaded in every session (Claude Code has no description trigger for rules, and
a rule Claude never sees helps nobody), its body opened by one line saying when it applies;
Manual → not written (Claude Code has no way to ask for a rule by name).
"""

from __future__ import annotations

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

FOLDER = ".claude/rules"


def locate(rule: SourceRule) -> str | None:
    """`.claude/rules/<path>.md`, or None for a Manual rule (not written)."""
    if rule.info.rule_type is RuleType.MANUAL:
        return None
    return f"{FOLDER}/{rule.stem}.md"


def rule_file(rule: SourceRule) -> str:
    """The Markdown Claude Code reads for one (non-Manual) rule."""
    kind = rule.info.rule_type
    if kind is RuleType.AUTO_ATTACHED:
        return front_matter([("paths", rule.info.globs)]) + rule.text
    if kind is RuleType.AGENT_REQUESTED:
        return f"Apply this rule when: {rule.info.description}\n\n{rule.text}"
    return rule.text


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """One `.md` per Always, Auto Attached and Agent Requested rule."""
    files = rule_files(rules, locate, rule_file)
    return Rendered(files=files, warnings=tuple(encoding_warnings(rules, "claude")))


TARGET = Target(
    name="claude",
    owns=(f"{FOLDER}/",),
    suffix=".md",
    render_rules=render,
    locate=locate,
    attach={
        RuleType.ALWAYS: How.ALWAYS,
        RuleType.AUTO_ATTACHED: How.GLOB,
        RuleType.AGENT_REQUESTED: How.ALWAYS,
        RuleType.MANUAL: How.NOT_WRITTEN,
    },
    full_text=rule_file,  # an Agent Requested rule opens with the line saying when it applies
)
