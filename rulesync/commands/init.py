"""`rulesync init [PATH] [--phase P] [--import | --library L]`: write a marker if absent,
register the project, apply. In a repository that already has rules or assistant files it
looks before it writes: without `--import` or `--library` it reports what it found and the
choices, and writes nothing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rulesync.commands._common import check_phase, config, registration_note, sync_project
from rulesync.commands.apply import print_result
from rulesync.config import Config
from rulesync.errors import EXIT_INVALID, InvalidInput, RulesyncError
from rulesync.existing import RULE_FOLDERS, Found, scan
from rulesync.fsutil import is_inside
from rulesync.git import find_git, init_repository
from rulesync.library import Library
from rulesync.marker import MARKER, default_marker_text, find_root, parse_marker, write_marker
from rulesync.project import choose_library, enabled_targets
from rulesync.registry import add_project

# Where `init --import` puts the repository's rules: inside it, so every clone has them.
IMPORTED_LIBRARY = ".rulesync/library"
_LIBRARY_LINE = "# library: default      # or a folder inside this project\n"


def marker_text(phase: str, library: str | None) -> str:
    """The marker init writes, naming `library` when one was chosen."""
    text = default_marker_text(phase)
    return text.replace(_LIBRARY_LINE, f"library: {library}\n") if library else text


def _library_spec(root: Path, given: str) -> str:
    """`--library` as the marker says it: a folder inside the project relative to it."""
    if given == "default" or "://" in given or given.startswith("git@"):
        return given
    path = Path(os.path.abspath(os.path.expanduser(given)))
    return path.relative_to(root).as_posix() if is_inside(path, root) else str(path)


def _found_lines(found: Found) -> list[str]:
    lines = []
    for tool, paths in found.rules.items():
        if paths:
            lines.append(f"  {tool}: {len(paths)} rule(s) ({', '.join(paths)})")
    for name in found.files:
        link = found.links.get(name)
        lines.append(f"  {name}" + (f" → {link} (it only points there)" if link else ""))
    lines += [f"  {s.path}: {s.reason}" for s in found.skipped]
    return lines


def _clashes(root: Path, found: Found, library: Library, phase: str, cfg: Config) -> list[str]:
    """The repository's rule files at a path where the library's tier writes one."""
    from rulesync.fsutil import read_regular, sha256_hex
    from rulesync.library import MAX_RULE_BYTES
    from rulesync.targets import SourceRule, combine, render_all

    marker = parse_marker(b"phase: auto\n", root)
    rules = library.resolve(phase)
    sources = [SourceRule(p, r.data) for p, r in rules.items()]
    output = combine(render_all(enabled_targets(marker, cfg), sources)).files
    names = {p.removesuffix(".mdc") for p in rules}
    lines = []
    for tool, paths in found.rules.items():
        folder, suffix = RULE_FOLDERS[tool]
        for path in paths:
            if path in output:
                data = read_regular(root / path, limit=MAX_RULE_BYTES, follow=False)
                same = sha256_hex(data) == sha256_hex(output[path])
                what = "the same bytes: rulesync would adopt it" if same else "a different rule"
                lines.append(f"  {path}: the library has {what}")
            elif path[len(folder) + 1 : -len(suffix)] in names:
                name = path[len(folder) + 1 : -len(suffix)]
                lines.append(f"  {path}: the library has a rule of this name, `{name}`")
    return lines


def _stop_and_ask(root: Path, found: Found, cfg: Config, phase: str | None) -> int:
    """Report what the repository has and the choices; nothing is written."""
    library = choose_library(parse_marker(b"phase: auto\n", root), cfg)
    tier = phase or library.tiers[0].name
    check_phase(tier, library, "--phase")
    print(f"{root} already has rules or assistant files of its own:")
    for line in _found_lines(found):
        print(line)
    clashes = _clashes(root, found, library, tier, cfg) if tier in library.tier_names else []
    if clashes:
        print(f"the same paths or names as the library `{library.label}` (tier {tier}):")
        for line in clashes:
            print(line)
    here = "" if root == Path.cwd() else f" {root}"
    print("nothing was written. Choose one:")
    print(
        f"  rulesync init{here} --import             make these rules the project's library "
        f"({IMPORTED_LIBRARY}, committed with it), then apply: your files stay as they are"
    )
    print(
        f"  rulesync init{here} --library default    use the bundled library alongside yours "
        f"(tier {tier}: {len(library.resolve(tier))} rules)"
    )
    print(f"  rulesync init{here} --library PATH|URL   use that library alongside yours")
    print("  or stop here: nothing was changed")
    print(
        "rulesync: init stopped to ask (exit 2): choose --import or --library; nothing was written",
        file=sys.stderr,
    )
    return EXIT_INVALID


def _import(root: Path, phase: str | None) -> tuple[str, str]:
    """Import the repository's rules into IMPORTED_LIBRARY; (library spec, phase)."""
    from rulesync.commands.import_ import DEFAULT_TIER, import_rules

    tier = phase or DEFAULT_TIER
    try:
        outcome = import_rules(root, [], root / IMPORTED_LIBRARY, tier)
    except InvalidInput as exc:
        raise InvalidInput(
            f"init --import: {exc}; nothing was written (`rulesync init --library default` "
            "uses the bundled library beside your files)"
        ) from None
    rules = outcome.imported.rules
    print(f"imported {len(rules)} rule(s) into {IMPORTED_LIBRARY} (tier {tier})")
    for item in outcome.imported.skipped:
        print(f"  not converted: {item.path}: {item.reason}")
    return IMPORTED_LIBRARY, tier


def run(args: argparse.Namespace) -> int:
    root = Path(os.path.abspath(os.path.expanduser(args.path)))
    if os.path.lexists(root) and not root.is_dir():
        raise InvalidInput(f"{root}: exists but is not a folder")
    cfg = config()
    marker_path = root / MARKER
    if os.path.lexists(marker_path):
        print(f"{marker_path}: exists, kept as it is")
        if args.phase or args.import_rules or args.library:
            print("  (--phase, --import and --library are for a new marker: it is kept)")
    else:
        _refuse_home(root, args)
        _refuse_nested(root, args)
        spec = _library_spec(root, args.library) if args.library else None
        if root.is_dir() and not args.import_rules and spec is None:
            found = scan(root)
            if found.any:
                return _stop_and_ask(root, found, cfg, args.phase)
        if args.import_rules:
            if not root.is_dir():
                raise InvalidInput(f"{root}: does not exist; --import reads its rules")
            spec, phase = _import(root, args.phase)
        else:
            probe = parse_marker(marker_text("auto", spec).encode(), root)
            library = choose_library(probe, cfg)  # refuses an untrusted one before any write
            phase = args.phase or library.tiers[0].name
            check_phase(phase, library, "--phase")  # before anything is created
        if not root.exists():
            # As `git init DIR` does: the folder and any missing parents, and a repository for
            # the rules' history unless the new folder already sits inside one.
            root.mkdir(parents=True)
            if find_git(root) is None:
                init_repository(root)
                print(f"created {root} (a new git repository)")
            else:
                print(f"created {root}")
        write_marker(root, marker_text(phase, spec))
        print(f"wrote {marker_path} (phase: {phase}" + (f", library: {spec})" if spec else ")"))
    try:
        result = sync_project(root, cfg, verbose=args.verbose)
    except InvalidInput:
        raise  # a marker or library to fix first: the project is not registered either
    except RulesyncError:
        _register(root, args)  # deferred or failed: the service retries it
        raise
    print_result(result)
    _register(root, args)
    return result.exit_code


def _refuse_home(root: Path, args: argparse.Namespace) -> None:
    """A marker in the home folder would make every folder under it one project: every
    command run anywhere below would sync it. Only with --allow-home."""
    home = Path(os.path.expanduser("~"))
    if not args.allow_home and os.path.realpath(root) == os.path.realpath(home):
        raise InvalidInput(
            f"{root}: this is your home folder; a project here would hold every folder under "
            "it (each command run below it would sync this one): run `rulesync init` in the "
            "project's own folder, or pass --allow-home if you mean it"
        )


def _refuse_nested(root: Path, args: argparse.Namespace) -> None:
    """A folder inside a project already belongs to that project: `rulesync apply` there syncs
    it. A project of its own inside it only with --nested."""
    try:
        outer = find_root(root.parent)
    except InvalidInput:
        return
    if not args.nested:
        raise InvalidInput(
            f"{root}: inside the project at {outer} (its marker {outer / MARKER}), which "
            f"`rulesync apply` here already syncs; to make {root.name} a project of its own, "
            "nested in that one, pass --nested"
        )


def _register(root: Path, args: argparse.Namespace) -> None:
    """Add the project to the service's registry (unless --no-register) and say what that
    means now."""
    if not args.no_register and add_project(root):
        print(f"registered {root}: {registration_note(root)}")
