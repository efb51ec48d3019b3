"""Drift in the manifest alone is explained: `diff` and `check` say what it records that apply
would record differently."""

from __future__ import annotations

import json
from pathlib import Path

from support.repos import rulesync

MANIFEST = ".rulesync-manifest.json"


def _edit_manifest(project: Path, **fields: object) -> None:
    path = project / MANIFEST
    doc = json.loads(path.read_text())
    doc.update(fields)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def test_diff_of_a_manifest_only_drift_says_what_is_out_of_date(project: Path) -> None:
    rulesync(project, "apply", check=0)
    _edit_manifest(project, tier="advanced")
    proc = rulesync(project, "diff", check=1)
    assert proc.stdout == (
        "# the manifest records tier `advanced`; the phase gives `basic`\n"
        "# no rule file differs; `rulesync apply` brings the manifest up to date\n"
    )
    doc = json.loads(rulesync(project, "diff", "--json", check=1).stdout)
    assert doc["files"] == []
    assert doc["manifest_reasons"] == [
        "the manifest records tier `advanced`; the phase gives `basic`"
    ]


def test_check_of_a_manifest_only_drift_says_why(project: Path) -> None:
    rulesync(project, "apply", check=0)
    logging = json.loads((project / MANIFEST).read_text())["files"][".cursor/rules/logging.mdc"]
    _edit_manifest(project, files={".cursor/rules/logging.mdc": logging})
    out = rulesync(project, "check", check=1).stdout
    assert (
        "  the manifest's record of these files is stale (on disk they "
        "already hold what apply writes): .cursor/rules/privacy.mdc, .cursor/rules/testing.mdc"
    ) in out
    doc = json.loads(rulesync(project, "check", "--json", check=1).stdout)
    assert len(doc["manifest_reasons"]) == 1


def test_a_deleted_manifest_is_named_as_missing(project: Path) -> None:
    rulesync(project, "apply", check=0)
    (project / MANIFEST).unlink()
    assert f"# the manifest {MANIFEST} is missing" in (rulesync(project, "diff", check=1).stdout)
    assert f"  the manifest {MANIFEST} is missing" in (rulesync(project, "check", check=1).stdout)


def test_a_diff_with_file_changes_adds_no_manifest_lines(project: Path) -> None:
    out = rulesync(project, "diff", check=1).stdout
    assert "+++ b/.cursor/rules/logging.mdc" in out
    assert MANIFEST not in out
