"""`rulesync import`: a repository's own rules made into a library, on real git repositories
built like the ones teams have, and on the shared corpus of real rule files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rulesync.mdc import RuleType, read_rule
from support.repos import git, make_library, rulesync, rulesync_commits
from tests.test_adopt import OWN_RULES, RULES, make_team_repo, own_files

LIBRARY = ".rulesync/library"


@pytest.mark.parametrize("claude_link", [False, True], ids=["at-agents", "symlink"])
def test_import_then_apply_keeps_the_rules_byte_for_byte_and_commits_only_what_changed(
    tmp_path: Path, claude_link: bool
) -> None:
    repo = make_team_repo(tmp_path / "team", claude_link=claude_link)
    before = own_files(repo)
    agents = (repo / "AGENTS.md").read_bytes()
    out = rulesync(repo, "import", "--into", LIBRARY, check=0).stdout
    assert out.startswith(f"imported 5 rule(s) into {LIBRARY} (tier basic): cursor 4, claude 1")
    assert f"next: set `library: {LIBRARY}` and `phase: basic`" in out
    (repo / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {LIBRARY}\n")
    proc = rulesync(repo, "apply", check=0)
    assert proc.stdout.startswith("basic: +1 ~0 -0, 4 adopted")
    assert own_files(repo) == before and (repo / "AGENTS.md").read_bytes() == agents
    body = git(repo, "log", "-1", "--format=%B").splitlines()
    assert body[0] == "rulesync: install basic rules (+1, 4 adopted)"
    assert {f"adopt {RULES}/{name}" for name in OWN_RULES} <= set(body)
    assert f"A {RULES}/house.mdc" in body  # the team's Claude rule, now for Cursor too
    assert not [line for line in body if line.startswith(f"A {RULES}/") and "house" not in line]
    # Only what changed is in the commit's diff; the library came with it.
    changed = set(git(repo, "show", "--name-only", "--format=", "HEAD").split())
    assert not {f"{RULES}/{name}" for name in OWN_RULES} & changed
    assert f"{LIBRARY}/tiers.yaml" in changed and f"{LIBRARY}/basic/general.mdc" in changed
    assert git(repo, "status", "--porcelain") == ""
    # A teammate's clone (and CI) has the library the manifest was made from.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    rulesync(clone, "check", check=0)
    assert rulesync(repo, "apply", check=0).stdout.startswith("in sync")
    assert len(rulesync_commits(repo)) == 1


def _write(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)


def test_import_converts_other_tools_where_exact_and_names_each_file_it_cannot(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    _write(
        repo,
        {
            ".claude/rules/api.md": "---\npaths:\n  - 'src/api/**/*.py'\n  - tests/api/**\n---\n"
            "Validate.\n",
            ".claude/rules/always.md": "Be brief.\n",
            ".github/instructions/ts.instructions.md": "---\napplyTo: '**/*.ts,**/*.tsx'\n"
            "description: TypeScript\n---\nStrict mode.\n",
            ".devin/rules/docs.md": "---\ntrigger: model_decision\ndescription: docs\n---\nDoc.\n",
            ".kiro/steering/sql.md": "---\ninclusion: fileMatch\nfileMatchPattern: '*.sql'\n---\n"
            "Use CTEs.\n",
            ".clinerules/style.md": "Tabs.\n",
            # What cannot be converted exactly:
            ".claude/rules/model.md": "---\nmodel: opus\n---\nBig.\n",
            ".devin/rules/odd.md": "---\ntrigger: sometimes\n---\nOdd.\n",
            ".kiro/steering/broken.md": "---\ninclusion: [always\n---\nBroken.\n",
            # Cursor rules as found in real repositories, taken byte for byte:
            f"{RULES}/double.mdc": "---\ndescription: twice\n---\n---\nglobs: x\n---\nBody\n",
            f"{RULES}/loose.mdc": "---\nglobs: **/*.ts\n---\nNot strict YAML.\n",
            f"{RULES}/empty.mdc": "---\ndescription: nothing yet\n---\n",
        },
    )
    outside = tmp_path / "secret.mdc"
    outside.write_text("---\nalwaysApply: true\n---\nsecret\n")
    (repo / RULES / "leak.mdc").symlink_to(outside)
    doc = json.loads(rulesync(repo, "import", "--into", "lib", "--json", check=0).stdout)
    rules = {r["rule"]: r["from"] for r in doc["imported"]}
    assert rules == {
        "api.mdc": ".claude/rules/api.md",
        "always.mdc": ".claude/rules/always.md",
        "ts.mdc": ".github/instructions/ts.instructions.md",
        "docs.mdc": ".devin/rules/docs.md",
        "sql.mdc": ".kiro/steering/sql.md",
        "style.mdc": ".clinerules/style.md",
        "double.mdc": f"{RULES}/double.mdc",
        "loose.mdc": f"{RULES}/loose.mdc",
        "empty.mdc": f"{RULES}/empty.mdc",
    }
    reasons = {s["path"]: s["reason"] for s in doc["not_converted"]}
    assert reasons[".claude/rules/model.md"] == "front matter key `model` has no Cursor equivalent"
    assert "`trigger` is not one of" in reasons[".devin/rules/odd.md"]
    assert "not YAML" in reasons[".kiro/steering/broken.md"]
    assert reasons[f"{RULES}/leak.mdc"] == "a symlink (never followed)"
    assert "secret" not in "".join(p.read_text() for p in (repo / "lib").rglob("*.mdc"))
    tier = repo / "lib/basic"
    api = read_rule((tier / "api.mdc").read_bytes())
    assert api.globs == ("src/api/**/*.py", "tests/api/**") and not api.findings
    assert read_rule((tier / "always.mdc").read_bytes()).rule_type is RuleType.ALWAYS
    ts = read_rule((tier / "ts.mdc").read_bytes())
    assert (ts.description, ts.globs) == ("TypeScript", ("**/*.ts", "**/*.tsx"))
    assert read_rule((tier / "docs.mdc").read_bytes()).rule_type is RuleType.AGENT_REQUESTED
    assert read_rule((tier / "sql.mdc").read_bytes()).globs == ("*.sql",)
    assert read_rule((tier / "style.mdc").read_bytes()).body.strip() == "Tabs."
    for name in ("double.mdc", "loose.mdc", "empty.mdc"):
        assert (tier / name).read_bytes() == (repo / RULES / name).read_bytes()
    rulesync(repo, "lint", "lib", check=0)


def test_import_refuses_paths_outside_the_repository_or_through_a_symlink(
    tmp_path: Path,
) -> None:
    repo = make_team_repo(tmp_path / "team")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.mdc").write_text("---\nalwaysApply: true\n---\nx\n")
    (repo / "linked").symlink_to(elsewhere)
    proc = rulesync(repo, "import", str(elsewhere), "--into", "lib", check=2)
    assert "outside the repository" in proc.stderr
    proc = rulesync(repo, "import", "linked", "--into", "lib", check=2)
    assert "through a symlink" in proc.stderr
    assert not (repo / "lib").exists()


def test_import_adds_a_tier_to_an_existing_library_and_refuses_one_that_exists(
    tmp_path: Path,
) -> None:
    repo = make_team_repo(tmp_path / "team")
    library = make_library(tmp_path / "library")
    rulesync(repo, "import", RULES, "--into", str(library), "--tier", "team", check=0)
    tiers = json.loads(rulesync(repo, "tiers", "--library", str(library), "--json").stdout)
    team = next(t for t in tiers["tiers"] if t["name"] == "team")
    own = {r["name"] for r in team["rules"] if r["from"] == "team"}
    assert own == set(OWN_RULES)
    before = (library / "tiers.yaml").read_bytes()
    proc = rulesync(repo, "import", "--into", str(library), "--tier", "basic", check=2)
    assert "tier `basic` exists already" in proc.stderr
    assert (library / "tiers.yaml").read_bytes() == before


def test_import_help_names_its_exit_codes() -> None:
    out = rulesync(Path.cwd(), "import", "--help", check=0).stdout
    assert "exit codes:" in out and "lint reports an error" in out and "nothing to import" in out


def import_corpus(corpus: Path, tmp_path: Path) -> None:
    """Import the whole corpus; lint accepts the library, tiers lists it, and every file is
    either a rule of it or named with the reason."""
    repo = tmp_path / "corpus-repo"
    shutil.copytree(corpus, repo / "rules", symlinks=True)
    library = tmp_path / "library"
    proc = rulesync(repo, "import", "rules", "--into", str(library), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    every = {p.relative_to(repo).as_posix() for p in (repo / "rules").rglob("*.mdc")}
    imported = {r["from"] for r in doc["imported"]}
    left_out = {s["path"]: s["reason"] for s in doc["not_converted"]}
    assert imported | set(left_out) == every and not imported & set(left_out)
    assert all(reason for reason in left_out.values())
    assert doc["lint"]["errors"] == 0
    rulesync(repo, "lint", str(library), check=0)
    tiers = json.loads(rulesync(repo, "tiers", "--library", str(library), "--json").stdout)
    assert len(tiers["tiers"][0]["rules"]) == len(imported) > 1000
    assert os.path.isfile(library / "tiers.yaml")


@pytest.mark.slow
def test_import_of_the_shared_corpus_gives_a_library_lint_accepts_and_tiers_lists(
    corpus: Path, tmp_path: Path
) -> None:
    import_corpus(corpus, tmp_path)


def test_a_rule_deleted_from_an_in_repository_library_is_deleted_in_the_same_commit(
    tmp_path: Path,
) -> None:
    repo = make_team_repo(tmp_path / "team", claude_link=False)
    rulesync(repo, "import", "--into", LIBRARY, check=0)
    (repo / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {LIBRARY}\n")
    rulesync(repo, "apply", check=0)
    gone = sorted((repo / LIBRARY / "basic").glob("*.mdc"))[0]
    gone.unlink()
    proc = rulesync(repo, "apply", check=0)
    assert f"- {RULES}/{gone.name}" in proc.stdout
    deleted = git(repo, "show", "--diff-filter=D", "--name-only", "--format=", "HEAD").split()
    assert sorted(deleted) == sorted([f"{RULES}/{gone.name}", f"{LIBRARY}/basic/{gone.name}"])
    assert git(repo, "status", "--porcelain") == ""
    # A clone of that commit has the library its manifest was made from.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    rulesync(clone, "check", check=0)
