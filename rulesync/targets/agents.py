"""`agents`: rulesync's block in `AGENTS.md` at the project root (read by Codex, Copilot,
Cursor, Devin, Gemini CLI, Jules, Zed and others; the user may write in the same file).

Always rules are given in full, first (a tool that cuts AGENTS.md keeps them). Auto
Attached rules are listed with their globs, Agent Requested rules with their description,
Manual rules by name, each with the path of its full text. That path comes from the other
enabled targets (`full_text_at`, e.g. `.cursor/rules/python.mdc`); a rule no enabled target
writes out gets its own file, `.agents/rules/<path>.md`, which no assistant loads by
itself: so no rule is lost, and a listed rule costs its line, not its text, on every
request. Codex reads 32 KiB of AGENTS.md by default (`project_doc_max_bytes`): a larger
block is warned (the whole file's size is checked by the reading model).
"""

from __future__ import annotations

from collections.abc import Sequence

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
)
from rulesync.targets.blocks import escape_markers

FILE = "AGENTS.md"
FOLDER = ".agents/rules"
MAX_BYTES = 32 * 1024


def _code(text: str) -> str:
    # A backtick inside the text needs a longer fence around it to stay one code span.
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def own_path(rule: SourceRule) -> str:
    """Where the agents target keeps a listed rule no other enabled target writes out."""
    return f"{FOLDER}/{rule.stem}.md"


def _where(rule: SourceRule, full_text_at: Locator, own: list[SourceRule]) -> str:
    path = full_text_at(rule)
    if path is None:
        own.append(rule)
        path = own_path(rule)
    return f"full text in {_code(path)}"


def block(rules: Sequence[SourceRule], full_text_at: Locator) -> str:
    """The Markdown of rulesync's block in AGENTS.md."""
    by_type: dict[RuleType, list[SourceRule]] = {kind: [] for kind in RuleType}
    for rule in sorted(rules, key=lambda r: r.path):
        by_type[rule.info.rule_type].append(rule)
    return _block(by_type, full_text_at, [])


def _block(
    by_type: dict[RuleType, list[SourceRule]], full_text_at: Locator, inline: list[SourceRule]
) -> str:
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
        items = [f"- {_code(r.stem)} ({_where(r, full_text_at, inline)})" for r in manual]
        sections.append(
            "## Rules used only when asked for by name\n\n"
            "Read one only when the user names it.\n\n" + "\n".join(items) + "\n"
        )
    return "\n".join(sections)


def render(rules: Sequence[SourceRule], full_text_at: Locator) -> Rendered:
    """rulesync's block in AGENTS.md (no block for an empty tier), and a file under
    `.agents/rules/` for each listed rule no other enabled target writes out."""
    by_type: dict[RuleType, list[SourceRule]] = {kind: [] for kind in RuleType}
    for rule in sorted(rules, key=lambda r: r.path):
        by_type[rule.info.rule_type].append(rule)
    own: list[SourceRule] = []
    text = _block(by_type, full_text_at, own)
    data = text.encode()
    files = {own_path(r): r.text.encode() for r in own}
    warnings = encoding_warnings(rules, "agents")
    if len(data) > MAX_BYTES:
        warnings.append(
            f"{FILE}: rulesync's block is {len(data):,} bytes; Codex reads only the first "
            f"{MAX_BYTES:,} bytes of AGENTS.md files by default (project_doc_max_bytes)"
        )
    return Rendered(files=files, blocks={FILE: data} if data else {}, warnings=tuple(warnings))


TARGET = Target(
    name="agents",
    owns=(FILE, f"{FOLDER}/"),
    suffix=".md",
    render_rules=render,
    # Only this target's own render points at these files: others see them as its locate.
    locate=own_path,
    reads=Reader(
        "Codex",
        (Source("agents", FILE, limit=MAX_BYTES, per="all"),),
        "gitignore",
        (
            Fact(
                "AGENTS.md files from the project root down to the working folder, one per "
                "folder (AGENTS.override.md first), joined root first; reading stops once "
                "the joined size reaches project_doc_max_bytes (32 KiB by default)",
                "https://developers.openai.com/codex/guides/agents-md",
            ),
            Fact(
                "Codex is started at the project root (a folder's own AGENTS.md counts only "
                "when Codex is started there)",
                "https://developers.openai.com/codex/guides/agents-md",
                assumed=True,
            ),
        ),
    ),
)
