"""`windsurf`: the Devin Desktop format in the legacy `.windsurf/rules/` folder, for
installs older than the rename (see `devin`)."""

from __future__ import annotations

from rulesync.targets.base import Target
from rulesync.targets.devin import locator, reader, renderer

FOLDER = ".windsurf/rules"

TARGET = Target(
    name="windsurf",
    owns=(f"{FOLDER}/",),
    suffix=".md",
    render_rules=renderer("windsurf", FOLDER, "Windsurf"),
    locate=locator(FOLDER),
    reads=reader("Windsurf", FOLDER),
    drops_loaded=True,
)
