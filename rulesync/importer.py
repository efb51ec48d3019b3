"""`rulesync import`: a repository's own rules made into a library (a new one, or a new tier of
an existing one).

Cursor's `.mdc` files are taken byte for byte (Cursor's own reader decides what they mean,
and apply copies them back unchanged). Other tools' rules are converted back to `.mdc` only
where the mapping is exact; each file that is not converted is named with the reason. Nothing
is read through a symlink, and nothing outside the repository is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rulesync.errors import InvalidInput, RulesyncError
from rulesync.existing import RULE_FOLDERS, Skipped, walk
from rulesync.fsutil import atomic_write, read_regular
from rulesync.library import MAX_RULE_BYTES, MAX_RULE_DEPTH, TIERS_FILE
from rulesync.mdc import read_rule
from rulesync.names import RULE_SUFFIX, is_ignored_entry, rule_name_problem
from rulesync.targets.base import split_front_matter

# Claude Code's line for an Agent Requested rule, as rulesync's `claude` target writes it.
_CLAUDE_WHEN = "Apply this rule when: "
_UNIVERSAL = frozenset({"**", "**/*", "*"})


class Rule(NamedTuple):
    """One rule for the library: its path in the tier (`backend/api.mdc`), bytes, and the
    repository file it came from."""

    name: str
    data: bytes
    source: str
    tool: str


class Imported(NamedTuple):
    """What an import read: the rules it converted and the files it did not, with why."""

    rules: tuple[Rule, ...]
    skipped: tuple[Skipped, ...]


def _mdc(description: str, globs: Sequence[str], always: bool, body: str) -> bytes:
    """An `.mdc` as Cursor reads it: one-line values, globs comma-joined and unquoted."""
    lines = ["---", f"description: {description}".rstrip(), f"globs: {','.join(globs)}".rstrip()]
    lines.append(f"alwaysApply: {'true' if always else 'false'}")
    text = "\n".join(lines) + "\n---\n" + body
    return text.encode("utf-8")


def _front_matter(data: bytes) -> tuple[dict[str, Any], str]:
    """The front matter of a tool that reads it as YAML, and the body; InvalidInput with the
    reason when it cannot be read exactly."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 (byte {exc.start})") from None
    head, body = split_front_matter(data)
    if not head:
        return {}, text
    inner = head.decode("utf-8").lstrip("\ufeff").split("\n", 1)[1].rsplit("---", 1)[0]
    if not inner.strip():
        return {}, body.decode("utf-8")
    import yaml  # only for other tools' front matter, which those tools read as YAML

    try:
        values = yaml.safe_load(inner)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0]
        raise InvalidInput(f"front matter is not YAML its tool can read ({problem})") from None
    if not isinstance(values, dict):
        raise InvalidInput("front matter is not a mapping of keys")
    return values, body.decode("utf-8")


def _strings(value: Any, key: str) -> list[str]:
    """A glob list: one string (comma-separated) or a list of strings."""
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InvalidInput(f"`{key}` is neither a glob nor a list of globs")


def _one_line(value: Any, key: str) -> str:
    if not isinstance(value, str) or "\n" in value.strip():
        raise InvalidInput(f"`{key}` is not one line of text (Cursor reads one line)")
    return value.strip()


def _no_other_keys(values: Mapping[str, Any], known: Iterable[str]) -> None:
    other = sorted(set(values) - set(known))
    if other:
        raise InvalidInput(f"front matter key `{other[0]}` has no Cursor equivalent")


def _globs_ok(globs: Sequence[str]) -> list[str]:
    for glob in globs:
        if "," in glob and "{" not in glob:
            raise InvalidInput(f"glob `{glob}` holds a comma, which Cursor's list splits on")
    return list(globs)


def _from_claude(values: Mapping[str, Any], body: str) -> bytes:
    _no_other_keys(values, ("paths",))
    if "paths" in values:
        return _mdc("", _globs_ok(_strings(values["paths"], "paths")), False, body)
    first, _, rest = body.partition("\n")
    if first.startswith(_CLAUDE_WHEN) and rest.startswith("\n"):
        return _mdc(first[len(_CLAUDE_WHEN) :].strip(), (), False, rest[1:])
    return _mdc("", (), True, body)  # no `paths`: loaded in every session


def _from_copilot(values: Mapping[str, Any], body: str) -> bytes:
    _no_other_keys(values, ("applyTo", "description"))
    description = _one_line(values.get("description", ""), "description")
    globs = _strings(values["applyTo"], "applyTo") if "applyTo" in values else []
    if set(globs) & _UNIVERSAL:
        if len(globs) > 1:
            raise InvalidInput("`applyTo` mixes `**` with other globs")
        return _mdc(description, (), True, body)
    return _mdc(description, _globs_ok(globs), False, body)


_TRIGGERS = ("always_on", "glob", "model_decision", "manual")


def _from_devin(values: Mapping[str, Any], body: str) -> bytes:
    _no_other_keys(values, ("trigger", "globs", "description"))
    trigger = values.get("trigger")
    if trigger not in _TRIGGERS:
        raise InvalidInput(f"`trigger` is not one of {', '.join(_TRIGGERS)}")
    description = _one_line(values.get("description", ""), "description")
    if trigger == "always_on":
        return _mdc(description, (), True, body)
    if trigger == "glob":
        return _mdc(description, _globs_ok(_strings(values.get("globs"), "globs")), False, body)
    if trigger == "model_decision":
        if not description:
            raise InvalidInput("`trigger: model_decision` without a description")
        return _mdc(description, (), False, body)
    return _mdc("", (), False, body)


def _from_kiro(values: Mapping[str, Any], body: str) -> bytes:
    _no_other_keys(values, ("inclusion", "fileMatchPattern", "name", "description"))
    inclusion = values.get("inclusion", "always")
    description = _one_line(values.get("description", ""), "description")
    if inclusion == "always":
        return _mdc(description, (), True, body)
    if inclusion == "fileMatch":
        globs = _strings(values.get("fileMatchPattern"), "fileMatchPattern")
        return _mdc(description, _globs_ok(globs), False, body)
    if inclusion == "auto" and description:
        return _mdc(description, (), False, body)
    if inclusion == "manual":
        return _mdc("", (), False, body)
    raise InvalidInput(f"`inclusion: {inclusion}` has no Cursor equivalent")


def _from_cline(values: Mapping[str, Any], body: str) -> bytes:
    _no_other_keys(values, ("paths",))
    if "paths" in values:
        return _mdc("", _globs_ok(_strings(values["paths"], "paths")), False, body)
    return _mdc("", (), True, body)


_CONVERTERS = {
    "claude": _from_claude,
    "copilot": _from_copilot,
    "devin": _from_devin,
    "windsurf": _from_devin,
    "kiro": _from_kiro,
    "cline": _from_cline,
}


def convert(tool: str, data: bytes) -> bytes:
    """`data`, a rule file of `tool`, as `.mdc` bytes; InvalidInput with the reason when the
    mapping would not be exact. A Cursor rule is its own bytes."""
    if tool == "cursor":
        return data
    values, body = _front_matter(data)
    return _CONVERTERS[tool](values, body)


def _rule_name(tool: str, relative: str) -> str:
    """The rule's path in the tier for a file at `relative` inside its tool's folder."""
    suffix = RULE_FOLDERS[tool][1] if tool in RULE_FOLDERS else RULE_SUFFIX
    return relative[: -len(suffix)] + RULE_SUFFIX


def _problem(name: str) -> str | None:
    """Why a rule cannot have this path in a library (None when it can)."""
    if name.count("/") > MAX_RULE_DEPTH:
        return f"nested more than {MAX_RULE_DEPTH} folders deep (a tier's limit)"
    for part in name.split("/"):
        if is_ignored_entry(part):
            return f"`{part}` is a hidden name, which a library ignores"
    return rule_name_problem(name.rsplit("/", 1)[-1])


class Source(NamedTuple):
    """Where to read rules: a folder (project-relative), the tool whose format they are in,
    and the suffix of its rule files."""

    folder: str
    tool: str
    suffix: str


def sources(root: Path, paths: Sequence[str]) -> list[Source]:
    """The folders to read: each tool's own folder when no path is given; else each path (a
    tool's folder, or any folder of `.mdc` files), which must lie inside `root` and be reached
    without a symlink. InvalidInput otherwise."""
    if not paths:
        return [
            Source(folder, tool, suffix)
            for tool, (folder, suffix) in RULE_FOLDERS.items()
            if (root / folder).is_dir() and not _through_link(root, folder)
        ]
    found: list[Source] = []
    for given in paths:
        full = Path(os.path.abspath(given))
        try:
            relative = full.relative_to(root).as_posix()
        except ValueError:
            raise InvalidInput(
                f"{given}: outside the repository ({root}); import reads only its own files"
            ) from None
        if relative == ".":
            raise InvalidInput(f"{given}: name a rules folder, not the repository itself")
        if _through_link(root, relative):
            raise InvalidInput(f"{given}: is reached through a symlink; name the real folder")
        if not full.is_dir():
            raise InvalidInput(f"{given}: not a folder")
        tool = next((t for t, (f, _) in RULE_FOLDERS.items() if relative == f), "cursor")
        suffix = RULE_FOLDERS[tool][1] if tool != "cursor" else RULE_SUFFIX
        found.append(Source(relative, tool, suffix))
    return found


def _through_link(root: Path, relative: str) -> bool:
    parts = relative.split("/")
    return any(os.path.islink(root.joinpath(*parts[: i + 1])) for i in range(len(parts)))


def read_rules(root: Path, where: Sequence[Source], managed: Iterable[str] = ()) -> Imported:
    """Every rule under the sources, converted; the files not converted, with why. A file
    rulesync wrote (`managed`) is not the repository's own and is left out; a later rule whose
    name is taken (by case or Unicode form too) is left out, naming the first."""
    import unicodedata

    ours = set(managed)
    rules: list[Rule] = []
    skipped: list[Skipped] = []
    taken: dict[str, Rule] = {}
    for source in where:
        found: list[Skipped] = []
        for path in walk(root, source.folder, source.suffix, found):
            relative = path[len(source.folder) + 1 :]
            if path in ours:
                skipped.append(Skipped(path, "written by rulesync (in its manifest), not yours"))
                continue
            name = _rule_name(source.tool, relative)
            problem = _problem(name)
            if problem is not None:
                skipped.append(Skipped(path, problem))
                continue
            try:
                raw = read_regular(root / path, limit=MAX_RULE_BYTES, follow=False)
                data = convert(source.tool, raw)
            except (RulesyncError, OSError) as exc:
                skipped.append(Skipped(path, _reason(exc, root / path)))
                continue
            key = unicodedata.normalize("NFC", name).casefold()
            first = taken.get(key)
            if first is not None:
                same = "the same rule as" if _same(first.data, data) else "its name is taken by"
                skipped.append(Skipped(path, f"{same} {first.source}"))
                continue
            rule = Rule(name, data, path, source.tool)
            taken[key] = rule
            rules.append(rule)
        skipped += found
    return Imported(tuple(rules), tuple(skipped))


def _reason(exc: Exception, path: Path) -> str:
    """The error without the path the report names anyway."""
    if isinstance(exc, OSError):
        return f"unreadable: {exc.strerror or exc}"
    return str(exc).removeprefix(f"{path}: ")


def _same(one: bytes, other: bytes) -> bool:
    """True when two rules say the same (front matter as Cursor reads it, and the body)."""
    a, b = read_rule(one), read_rule(other)
    return (a.description, a.globs, a.always_apply, a.body.strip()) == (
        b.description,
        b.globs,
        b.always_apply,
        b.body.strip(),
    )


def _tiers_text(existing: str | None, tier: str, note: str) -> str:
    """tiers.yaml with `tier` last (a new file when `existing` is None)."""
    entry = f"  - name: {tier}\n    description: {note}\n"
    if existing is None:
        return f"version: 1\ntiers:\n{entry}"
    if not existing.endswith("\n"):
        existing += "\n"
    return existing + entry


def _check_appendable(text: str, path: Path) -> None:
    """A new tier is appended as text (comments and order kept): the `tiers:` list must be
    the file's last top-level key."""
    top = [line for line in text.splitlines() if line and not line[0].isspace()]
    top = [line for line in top if not line.startswith("#")]
    if not top or not top[-1].startswith("tiers:") or top[-1].strip() != "tiers:":
        raise InvalidInput(
            f"{path}: `tiers:` is not its last key as a block list, so the new tier cannot be "
            "appended; add it yourself, or import into a new library"
        )


def write_library(into: Path, tier: str, imported: Imported, note: str) -> list[Path]:
    """Write the rules as tier `tier` of the library at `into` (created when absent, or a new
    tier appended to its tiers.yaml); the files written. InvalidInput before any write when
    the tier exists or the folder is something else."""
    tiers_path = into / TIERS_FILE
    existing: str | None = None
    if os.path.lexists(into) and (os.path.islink(into) or not into.is_dir()):
        raise InvalidInput(f"{into}: exists and is not a folder (or is a symlink)")
    if os.path.lexists(tiers_path):
        existing = read_regular(tiers_path, limit=1024 * 1024, follow=False).decode(
            "utf-8", "replace"
        )
        _check_appendable(existing, tiers_path)
        from rulesync.library import load_library

        library = load_library(into, str(into))
        if tier in library.tier_names:
            raise InvalidInput(
                f"{tiers_path}: tier `{tier}` exists already; choose another with --tier"
            )
    elif os.path.lexists(into) and any(not is_ignored_entry(e) for e in os.listdir(into)):
        raise InvalidInput(f"{into}: a folder with files but no {TIERS_FILE}; name another")
    folder = into / tier
    if os.path.lexists(folder):
        raise InvalidInput(f"{folder}: exists already; choose another tier with --tier")
    written: list[Path] = []
    for rule in imported.rules:
        path = folder / rule.name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, rule.data, sync=False)
        written.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    readme = folder / "README.md"
    atomic_write(readme, f"# {tier}\n\n{note}.\n".encode(), sync=False)
    atomic_write(tiers_path, _tiers_text(existing, tier, note).encode("utf-8"))
    return [tiers_path, readme, *written]


def drop_lint_errors(into: Path, tier: str, imported: Imported) -> Imported:
    """Lint the library; a rule lint calls an error (a hidden character, an unclosed front
    matter) is removed from it and named with the error, so what remains lints clean."""
    from rulesync.lint import lint

    by_path = {into / tier / r.name: r for r in imported.rules}
    dropped: dict[Path, str] = {}
    for report in lint(into).reports:
        rule = by_path.get(report.path)
        errors = [f.message for f in report.findings if f.level == "error"]
        if rule is not None and errors:
            dropped[report.path] = errors[0]
    for path in dropped:
        path.unlink()
    kept = tuple(r for p, r in by_path.items() if p not in dropped)
    lost = tuple(Skipped(by_path[p].source, f"lint: {why}") for p, why in dropped.items())
    return Imported(kept, imported.skipped + lost)
