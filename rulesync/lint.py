"""Linting a library, a folder of `.mdc` files or one file. One bad file never hides another.

A folder is walked into its subfolders (a tier may group its rules in folders). Which entries
are rules is decided by `rulesync.names`, the same check apply makes: editor droppings and
hidden files are ignored, a name apply would refuse is an error here too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from rulesync.errors import InvalidInput, RulesyncError
from rulesync.explain import always_on, total_tokens
from rulesync.fsutil import read_regular
from rulesync.globs import untranslatable
from rulesync.hidden import is_hidden_finding
from rulesync.library import MAX_RULE_BYTES, TIERS_FILE, Library, load_library
from rulesync.mdc import Finding, RuleInfo, RuleType, read_rule
from rulesync.names import (
    RULE_SUFFIX,
    collision_key,
    is_ignored_entry,
    is_rule_candidate,
    rule_name_problem,
)
from rulesync.targets.base import split_front_matter

# Characters Windows cannot hold in a file name (the rest of its list are control characters,
# which apply refuses anyway).
WINDOWS_FORBIDDEN = ':*?"<>|'


class FileReport(NamedTuple):
    """The findings for one file (rule_type is None for non-rule files such as tiers.yaml)."""

    path: Path
    findings: tuple[Finding, ...]
    rule_type: RuleType | None = None


class Linted(NamedTuple):
    """What was linted (`library`, `folder` or `file`, and where) and the reports."""

    kind: str
    path: Path
    reports: list[FileReport]


def lint_file(path: Path, name_findings: tuple[Finding, ...] = ()) -> FileReport:
    """Read and lint one `.mdc` file; unreadable files become an error finding."""
    try:
        data = read_regular(path, limit=MAX_RULE_BYTES, follow=False, what="rule file")
    except RulesyncError as exc:
        return FileReport(path, (*name_findings, Finding("error", str(exc).split(": ", 1)[-1])))
    except OSError as exc:
        return FileReport(
            path, (*name_findings, Finding("error", f"unreadable: {exc.strerror or exc}"))
        )
    info = read_rule(data)
    findings = (*name_findings, *info.findings, *other_tools_findings(data, info))
    broken = any(f.level == "error" for f in findings)
    return FileReport(path, findings, None if broken else info.rule_type)


_MDC_LINK = re.compile(r"\]\(mdc:([^)\s]+)\)")


def other_tools_findings(data: bytes, info: RuleInfo) -> list[Finding]:
    """What changes on the way to the other assistants' files: a glob their dialect cannot
    say, a Cursor-only `mdc:` link, a second front-matter block (text to every other tool)."""
    findings: list[Finding] = []
    bad = untranslatable(info.globs) if info.rule_type is RuleType.AUTO_ATTACHED else []
    if bad:
        findings.append(
            Finding(
                "warning",
                f"glob {', '.join(f'`{g}`' for g in bad)} cannot be said in the glob dialect "
                "of Claude Code, Copilot, Kiro or Cline (untranslatable): those targets leave "
                "it out; write the files it should match instead",
            )
        )
    body = split_front_matter(data)[1].decode("utf-8", errors="replace")
    links = _MDC_LINK.findall(body)
    if links:
        findings.append(
            Finding(
                "warning",
                f"`mdc:` link to {links[0]} is Cursor's own: other targets get a plain link "
                f"(`/{links[0]}`)",
            )
        )
    if info.has_front_matter and split_front_matter(body.lstrip("\n").encode())[0]:
        findings.append(
            Finding(
                "warning",
                "a second front-matter block after the first: Cursor and every other target "
                "read it as text of the rule; merge it into the first",
            )
        )
    return findings


def name_findings(relative: str) -> list[Finding]:
    """What is wrong with a rule's path inside its folder (`/`-separated)."""
    name = relative.rsplit("/", 1)[-1]
    findings: list[Finding] = []
    if not name.endswith(RULE_SUFFIX):
        extension = name[-len(RULE_SUFFIX) :]
        findings.append(
            Finding(
                "warning",
                f"extension `{extension}` is not `{RULE_SUFFIX}`: Cursor and rulesync skip "
                f"the file; rename it to end in `{RULE_SUFFIX}`",
            )
        )
    else:
        problem = rule_name_problem(name)
        if problem is not None:
            findings.append(Finding("error", f"apply refuses this rule: {problem}; rename it"))
    forbidden = sorted({c for c in relative if c in WINDOWS_FORBIDDEN})
    if forbidden:
        findings.append(
            Finding(
                "warning",
                f"the name holds {' '.join(forbidden)}, which Windows cannot store in a file "
                "name; rename it",
            )
        )
    return findings


def _is_rule_entry(name: str) -> bool:
    # `.MDC` and `.Mdc` are linted (and warned about) because their author meant a rule.
    return is_rule_candidate(name) or (
        name.lower().endswith(RULE_SUFFIX) and not is_ignored_entry(name)
    )


def rule_entries(folder: Path) -> list[tuple[str, Path]]:
    """Every rule entry under `folder`, subfolders included: (relative path, path), sorted.

    Symlinked folders are not followed; ignored entries are skipped as apply skips them.
    """
    found: list[tuple[str, Path]] = []

    def walk(here: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if is_ignored_entry(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), f"{prefix}{entry.name}/")
            elif _is_rule_entry(entry.name):
                found.append((prefix + entry.name, Path(entry.path)))

    walk(folder, "")
    return found


def collisions(entries: list[tuple[str, Path]]) -> dict[Path, list[Finding]]:
    """Names that differ only by case or Unicode normalisation: an error on each later one."""
    first: dict[str, str] = {}
    found: dict[Path, list[Finding]] = {}
    for relative, path in entries:
        key = collision_key(relative)
        other = first.setdefault(key, relative)
        if other != relative:
            found.setdefault(path, []).append(
                Finding(
                    "error",
                    f"`{relative}` and `{other}` differ only by case or Unicode normalisation: "
                    "they are one file on macOS and Windows; rename one",
                )
            )
    return found


def _lint_entries(
    entries: list[tuple[str, Path]], extra: dict[Path, list[Finding]]
) -> list[FileReport]:
    return [
        lint_file(path, (*extra.get(path, []), *name_findings(relative)))
        for relative, path in entries
    ]


def _library_error(tiers_path: Path, exc: RulesyncError) -> Finding:
    """The load error as a finding, without repeating the path the report already names."""
    message = str(exc)
    prefix = f"{tiers_path}:"
    if not message.startswith(prefix):
        return Finding("error", message)
    rest = message[len(prefix) :]
    match = re.match(r"(\d+):\s*", rest)
    if match:
        return Finding("error", rest[match.end() :], int(match.group(1)))
    return Finding("error", rest.strip())


def _budget_findings(library: Library, tiers_path: Path) -> list[Finding]:
    """A warning per tier whose always-on context exceeds `budget.always_tokens`."""
    budget = library.always_tokens_budget
    if budget is None:
        return []
    try:
        text = tiers_path.read_text(encoding="utf-8")
        line = next((n for n, t in enumerate(text.splitlines(), 1) if t.startswith("budget:")), 0)
    except (OSError, UnicodeDecodeError):
        line = 0
    findings = []
    for tier in library.tiers:
        try:
            rules = {n: read_rule(r.data) for n, r in library.resolve(tier.name).items()}
        except RulesyncError:
            continue  # the rule files' own reports say what is wrong
        tokens = total_tokens(always_on(rules))
        if tokens > budget:
            findings.append(
                Finding(
                    "warning",
                    f"tier `{tier.name}` loads about {tokens:,} tokens on every request, over "
                    f"the budget of {budget:,} (budget.always_tokens): shorten its Always "
                    "rules or make some Auto Attached",
                    line,
                )
            )
    return findings


def _reading_findings(library: Library, targets: tuple[str, ...]) -> list[Finding]:
    """A warning per tier and assistant that would load some of the tier's rules twice, or
    reach some from no file, with these targets enabled in a project of no files of its own
    (the warnings `apply` gives, before any project uses the library)."""
    if targets == ("cursor",):
        return []  # one target, read by one assistant: nothing to load twice
    from rulesync import reading
    from rulesync.targets import SourceRule, combine, get

    enabled = [get(name) for name in targets]
    findings = []
    for tier in library.tiers:
        try:
            rules = library.resolve(tier.name)
        except RulesyncError:
            continue  # the rule files' own reports say what is wrong
        sources = tuple(SourceRule(p, r.data) for p, r in rules.items())
        output = combine(reading.plan_together(targets, sources, {}))
        for line in reading.tier_warnings({}, enabled, sources, output.files, output.blocks):
            findings.append(
                Finding("warning", f"tier `{tier.name}`, targets {', '.join(targets)}: {line}")
            )
    return findings


def _lint_library(root: Path, targets: tuple[str, ...]) -> list[FileReport]:
    tiers_path = root / TIERS_FILE
    folders: dict[str, list[tuple[str, Path]]] = {}
    try:
        library = load_library(root, str(root))
    except RulesyncError as exc:
        reports = [FileReport(tiers_path, (_library_error(tiers_path, exc),))]
        for folder in sorted(
            p for p in root.iterdir() if p.is_dir() and not is_ignored_entry(p.name)
        ):
            entries = rule_entries(folder)
            reports.extend(_lint_entries(entries, collisions(entries)))
        return reports
    for tier in library.tiers:
        folders[tier.name] = rule_entries(library.tier_dir(tier.name))
    # Names collide where they meet: in a tier's resolved set, its own and its ancestors'.
    clashes: dict[Path, list[Finding]] = {}
    for tier in library.tiers:
        chain = [e for t in library.chain(tier.name) for e in folders[t.name]]
        for path, found in collisions(chain).items():
            known = clashes.setdefault(path, [])
            known.extend(f for f in found if f not in known)
    library_findings = [
        *_budget_findings(library, tiers_path),
        *_reading_findings(library, targets),
    ]
    reports = [FileReport(tiers_path, tuple(library_findings))]
    for tier in library.tiers:
        reports.extend(_lint_entries(folders[tier.name], clashes))
    return [allow_hidden(r, library) for r in reports]


def allow_hidden(report: FileReport, library: Library) -> FileReport:
    """A rule tiers.yaml allows to hold invisible characters has them as warnings."""
    for tier in library.tiers:
        folder = library.tier_dir(tier.name)
        if report.path.is_relative_to(folder):
            name = report.path.relative_to(folder).as_posix().removesuffix(RULE_SUFFIX)
            if name in library.allow_hidden:
                findings = tuple(
                    f._replace(level="warning") if is_hidden_finding(f.message) else f
                    for f in report.findings
                )
                return report._replace(findings=findings)
    return report


def lint(path: Path, targets: tuple[str, ...] = ("cursor",)) -> Linted:
    """Lint a library (a folder with tiers.yaml, or tiers.yaml itself), a folder of `.mdc`
    files (subfolders included) or one file; InvalidInput when `path` is none of those.
    A library's tiers are also read as the assistants of `targets` would load them."""
    if not os.path.lexists(path):
        raise InvalidInput(
            f"{path}: not found; name a library, a folder of {RULE_SUFFIX} files or one file"
        )
    if path.is_dir():
        if (path / TIERS_FILE).exists():
            return Linted("library", path, _lint_library(path, targets))
        entries = rule_entries(path)
        return Linted("folder", path, _lint_entries(entries, collisions(entries)))
    if path.name == TIERS_FILE:
        return Linted("library", path.parent, _lint_library(path.parent, targets))
    if is_ignored_entry(path.name):
        raise InvalidInput(
            f"{path}: an editor's dropping or a hidden file, which rulesync ignores (apply "
            "never copies it); nothing to lint"
        )
    if not _is_rule_entry(path.name):
        raise InvalidInput(
            f"{path}: not a rule (`*{RULE_SUFFIX}`) nor a library's {TIERS_FILE}; nothing to lint"
        )
    return Linted("file", path, _lint_entries([(path.name, path)], {}))


def lint_path(path: Path) -> list[FileReport]:
    """The reports of `lint(path)`."""
    return lint(path).reports
