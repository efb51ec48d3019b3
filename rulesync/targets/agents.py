"""`agents`: rulesync's block in `AGENTS.md` at the project root (read by Codex, Copilot,
Cursor, Devin, Gemini CLI, Jules, Zed and others; the user may write in the same file).

Always rules are given in full. Auto Attached rules are listed with their globs, Agent
Requested rules with their description, each with where its full text is; Manual rules are
named only. "Where the full text is" comes from the other enabled targets (`full_text_at`,
e.g. `.cursor/rules/python.mdc`); a listed rule no enabled target writes out is given in
full at the end of the block instead, so that no rule is lost. Codex reads 32 KiB of
AGENTS.md by default (`project_doc_max_bytes`): a larger block is warned.
"""

from __future__ import annotations

from collections.abc import Sequence

from rulesync.mdc import RuleType
from rulesync.targets.base import How, Locator, Rendered, SourceRule, Target, encoding_warnings
from rulesync.targets.blocks import escape_markers

FILE = "AGENTS.md"
MAX_BYTES = 32 * 1024
_FULL_TEXT_BELOW = "full text below"


def _code(text: str) -> str:
    # A backtick inside the text needs a longer fence around it to stay one code span.
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _where(rule: SourceRule, full_text_at: Locator, inline: list[SourceRule]) -> str:
    path = full_text_at(rule)
    if path is not None:
        return f"full text in {_code(path)}"
    inline.append(rule)
    return _FULL_TEXT_BELOW


def block(rules: Sequence[SourceRule], full_text_at: Locator) -> str:
    """The Markdown of rulesync's block in AGENTS.md."""
    by_type: dict[RuleType, list[SourceRule]] = {kind: [] for kind in RuleType}
    for rule in sorted(rules, key=lambda r: r.path):
        by_type[rule.info.rule_type].append(rule)
    inline: list[SourceRule] = []
    sections: list[str] = []

    always = [r for r in by_type[RuleType.ALWAYS] if r.text]
    if always:
        sections.append(
            "## Project rules\n\n"
            + "\n".join(f"<!-- rule: {r.stem} -->\n{escape_markers(r.text)}" for r in always)
        )
    attached = by_type[RuleType.AUTO_ATTACHED]
    if attached:
        items = [
            f"- {_code(r.stem)} for files matching "
            f"{', '.join(_code(g) for g in r.info.globs)}: {_where(r, full_text_at, inline)}"
            for r in attached
        ]
        sections.append(
            "## Rules for matching files\n\nRead a rule before working on files it matches.\n\n"
            + "\n".join(items)
            + "\n"
        )
    requested = by_type[RuleType.AGENT_REQUESTED]
    if requested:
        items = [
            f"- {_code(r.stem)}: {escape_markers(r.info.description)} "
            f"({_where(r, full_text_at, inline)})"
            for r in requested
        ]
        sections.append(
            "## Rules to read when relevant\n\nRead a rule when its description fits the task.\n\n"
            + "\n".join(items)
            + "\n"
        )
    manual = by_type[RuleType.MANUAL]
    if manual:
        items = []
        for r in manual:
            path = full_text_at(r)
            items.append(f"- {_code(r.stem)}" + (f" ({_code(path)})" if path else ""))
        sections.append("## Rules used only when asked for by name\n\n" + "\n".join(items) + "\n")
    if inline:
        sections.append(
            "## Full text of the rules listed above\n\n"
            + "\n".join(f"### {r.stem}\n\n{escape_markers(r.text)}" for r in inline)
        )
    return "\n".join(sections)


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """rulesync's block in AGENTS.md (no block for an empty tier)."""
    text = block(rules, full_text_at)
    data = text.encode()
    warnings = encoding_warnings(rules, "agents")
    if len(data) > MAX_BYTES:
        warnings.append(
            f"{FILE}: rulesync's block is {len(data):,} bytes; Codex reads only the first "
            f"{MAX_BYTES:,} bytes of AGENTS.md files by default (project_doc_max_bytes)"
        )
    return Rendered(blocks={FILE: data} if data else {}, warnings=tuple(warnings))


TARGET = Target(
    name="agents",
    owns=(FILE,),
    render_rules=render,
    # The block is read whole: Always rules in full, the others listed for the model to read.
    attach={
        RuleType.ALWAYS: How.ALWAYS,
        RuleType.AUTO_ATTACHED: How.REQUESTABLE,
        RuleType.AGENT_REQUESTED: How.REQUESTABLE,
        RuleType.MANUAL: How.MANUAL,
    },
    loaded_whole=(FILE,),
)
