"""The targets: one module per assistant, each defining `TARGET`, found here by scanning
this package (a new target is one new module). `render_all` renders a tier for the
enabled targets, telling each where the others keep a rule's full text."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from rulesync.errors import InvalidInput
from rulesync.targets.base import Locator, Rendered, SourceRule, Target

DEFAULT = ("cursor",)


def _discover() -> dict[str, Target]:
    found: dict[str, Target] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        target = getattr(module, "TARGET", None)
        if isinstance(target, Target):
            found[target.name] = target
    return found


TARGETS: dict[str, Target] = _discover()


def get(name: str) -> Target:
    """The target called `name`; InvalidInput naming the valid ones otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown target {name!r}; valid targets: {', '.join(sorted(TARGETS))}"
        ) from None


def full_text_locator(targets: Sequence[Target]) -> Locator:
    """Where the first of `targets` that writes a rule's full text to a file keeps it."""

    def locate(rule: SourceRule) -> str | None:
        for target in targets:
            path = target.locate(rule)
            if path is not None:
                return path
        return None

    return locate


def render_all(names: Sequence[str], rules: Sequence[SourceRule]) -> dict[str, Rendered]:
    """Each named target's rendering of the tier, in the order given; a target pointing at a
    rule's full text points at the first other enabled target that keeps it."""
    targets = [get(name) for name in names]
    return {
        target.name: target.render(
            rules, full_text_locator([t for t in targets if t is not target])
        )
        for target in targets
    }


__all__ = ["DEFAULT", "TARGETS", "Rendered", "SourceRule", "Target", "get", "render_all"]
