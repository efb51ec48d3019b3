"""The `kiro` and `cline` targets (SPEC §8): each is one module; each rule type becomes what
the tool's docs give it, and the reading model answers for the assistant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rulesync import reading
from rulesync.reading import plan_together
from rulesync.targets import SourceRule, combine, render_all
from rulesync.targets.base import How, split_front_matter
from support.repos import make_repo, rulesync

RULES = [
    SourceRule("core.mdc", b"---\nalwaysApply: true\n---\nCore.\n"),
    SourceRule("py.mdc", b"---\nglobs: *.py\n---\nPython.\n"),
    SourceRule("web.mdc", b"---\nglobs: src/**/*.ts, src/**/*.tsx\n---\nWeb.\n"),
    SourceRule("ask.mdc", b"---\ndescription: Deploying\n---\nDeploy.\n"),
    SourceRule("by-hand.mdc", b"---\nalwaysApply: false\n---\nBy hand.\n"),
    SourceRule("ui/react.mdc", b"---\nglobs: src/**/*.tsx\n---\nHooks.\n"),
]


def front(data: bytes) -> dict[str, Any]:
    loaded = yaml.safe_load(split_front_matter(data)[0].decode().strip().strip("-"))
    assert isinstance(loaded, dict)
    return loaded


def test_kiro_writes_one_steering_file_per_rule_with_its_inclusion_mode() -> None:
    files = render_all(["kiro"], RULES)["kiro"].files
    assert {p: front(d) for p, d in files.items()} == {
        ".kiro/steering/core.md": {"inclusion": "always"},
        ".kiro/steering/py.md": {"inclusion": "fileMatch", "fileMatchPattern": "**/*.py"},
        ".kiro/steering/web.md": {
            "inclusion": "fileMatch",
            "fileMatchPattern": ["src/**/*.ts", "src/**/*.tsx"],
        },
        ".kiro/steering/ask.md": {"inclusion": "auto", "name": "ask", "description": "Deploying"},
        ".kiro/steering/by-hand.md": {"inclusion": "manual"},
        ".kiro/steering/ui__react.md": {
            "inclusion": "fileMatch",
            "fileMatchPattern": "src/**/*.tsx",
        },
    }
    assert split_front_matter(files[".kiro/steering/core.md"])[1] == b"Core.\n"


def test_cline_writes_always_and_scoped_rules_and_leaves_the_others_to_agents_md() -> None:
    files = render_all(["cline"], RULES)["cline"].files
    assert set(files) == {
        ".clinerules/core.md",
        ".clinerules/py.md",
        ".clinerules/web.md",
        ".clinerules/ui__react.md",
    }
    assert files[".clinerules/core.md"] == b"Core.\n"
    assert front(files[".clinerules/py.md"]) == {"paths": ["**/*.py"]}


def test_with_agents_md_kiro_and_cline_load_each_rule_once_none_lost() -> None:
    names = ("agents", "kiro", "cline")
    out = combine(plan_together(names, RULES, {}))
    # Both read AGENTS.md: the Always rule is not written again in their folders.
    assert ".kiro/steering/core.md" not in out.files
    assert ".clinerules/core.md" not in out.files
    from rulesync.targets import get

    targets = [get(n) for n in names]
    view = reading.view({}, targets, RULES, out.files, out.blocks)
    texts = {r.stem: r.text for r in RULES}
    for target in targets[1:]:
        assert target.reads is not None
        assert reading.findings(target.reads, view.files, view.origins, texts) == []
        load = reading.simulate(target.reads, view.files, "src/app.tsx", view.origins)
        verdicts = {v.rule: v.how for v in reading.verdicts(load, texts)}
        assert verdicts["core"] is How.ALWAYS and verdicts["ui/react"] is How.GLOB
        assert verdicts["by-hand"] is How.MANUAL


def test_cline_alone_loses_the_rules_it_cannot_hold_and_apply_says_so(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "cline")
    lib = project / "rules-lib" / "one"
    lib.mkdir(parents=True)
    (lib.parent / "tiers.yaml").write_text("tiers:\n  - name: one\n")
    for rule in RULES:
        (lib / rule.path).parent.mkdir(parents=True, exist_ok=True)
        (lib / rule.path).write_bytes(rule.data)
    (project / ".rulesync.yaml").write_text("phase: one\nlibrary: rules-lib\ntargets: [cline]\n")
    proc = rulesync(project, "apply", check=0)
    assert "Cline can reach 2 rule(s) from no file it reads: ask, by-hand" in proc.stderr
    assert (project / ".clinerules/ui__react.md").exists()
