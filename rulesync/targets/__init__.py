"""The targets: one module per assistant, each defining `TARGET`, found here by scanning
this package (a new target is one new module). `render` and `render_all` render a tier
for the enabled targets, telling each where the others keep a rule's full text."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence

from rulesync.errors import InvalidInput
from rulesync.targets.base import Locator, Rendered, SourceRule, Target

DEFAULT = ("cursor",)


def _discover() -> dict[str, Target]:
    found: dict[str, Target] = {}
    # The package's own folder listed, not pkgutil.iter_modules: that imports `inspect` (with
    # ast, dis and tokenize), a visible part of every run's cold start.
    names = {name[:-3] for name in os.listdir(__path__[0]) if name.endswith(".py")}
    for name in sorted(names - {"__init__"}):
        module = importlib.import_module(f"{__name__}.{name}")
        target = getattr(module, "TARGET", None)
        if isinstance(target, Target):
            found[target.name] = target
    return found


TARGETS: dict[str, Target] = _discover()
# Files at the project root, beside the marker, whose change changes the plan: the ones
# targets write (AGENTS.md) and the ones they are planned around (a CLAUDE.md decides whether
# Claude Code reads AGENTS.md).
ROOT_FILES = frozenset(
    {*(o for t in TARGETS.values() for o in t.owns if "/" not in o), "CLAUDE.md", "CLAUDE.local.md"}
)


def get(name: str) -> Target:
    """The target called `name`; InvalidInput naming the valid ones otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        from rulesync.suggest import did_you_mean

        raise InvalidInput(
            f"unknown target {name!r}{did_you_mean(name, TARGETS)}; "
            f"valid targets: {', '.join(sorted(TARGETS))}"
        ) from None


def _full_text_locator(targets: Sequence[Target]) -> Locator:
    """Where the first of `targets` that writes a rule's full text to a file keeps it."""

    def locate(rule: SourceRule) -> str | None:
        for target in targets:
            path = target.where(rule)
            if path is not None:
                return path
        return None

    return locate


_OWNED_FILES = {o: t for t in TARGETS.values() for o in t.owns if not o.endswith("/")}
_OWNED_FOLDERS = tuple((o, t) for t in TARGETS.values() for o in t.owns if o.endswith("/"))


def owner(path: str) -> Target | None:
    """The target that may write `path` (project-relative POSIX), enabled or not: one owning
    that shape of name (its file, or its folder and suffix), as its `claims` says."""
    found = _OWNED_FILES.get(path)
    if found is not None:
        return found
    return next(
        (t for prefix, t in _OWNED_FOLDERS if path.startswith(prefix) and t.claims(path)), None
    )


def combine(rendered: Mapping[str, Rendered]) -> Rendered:
    """Every target's files and blocks in one desired state; InvalidInput when two targets
    would write the same path (a path is one target's, whole or as a block)."""
    files: dict[str, bytes] = {}
    blocks: dict[str, bytes] = {}
    by: dict[str, str] = {}
    warnings: list[str] = []
    for name, output in rendered.items():
        for kind, paths in ((files, output.files), (blocks, output.blocks)):
            for path, data in paths.items():
                if path in by:
                    raise InvalidInput(
                        f"targets `{by[path]}` and `{name}` both write {path}; "
                        "remove one of them from `targets:`"
                    )
                by[path] = name
                kind[path] = data
        warnings += output.warnings
    return Rendered(
        files=dict(sorted(files.items())),
        blocks=dict(sorted(blocks.items())),
        warnings=tuple(warnings),
    )


def render(target: Target, enabled: Sequence[Target], rules: Sequence[SourceRule]) -> Rendered:
    """`target`'s rendering of the tier beside the `enabled` targets: a rule whose full text
    it points at is found in the first other enabled target that keeps it."""
    return target.render(rules, _full_text_locator([t for t in enabled if t is not target]))


def render_all(names: Sequence[str], rules: Sequence[SourceRule]) -> dict[str, Rendered]:
    """Each named target's rendering of the tier, in the order given, beside the others
    (`rulesync.reading.plan_together` plans them from what each assistant loads)."""
    targets = [get(name) for name in names]
    return {target.name: render(target, targets, rules) for target in targets}


__all__ = [
    "DEFAULT",
    "ROOT_FILES",
    "TARGETS",
    "Rendered",
    "SourceRule",
    "Target",
    "combine",
    "get",
    "owner",
    "render",
    "render_all",
]
