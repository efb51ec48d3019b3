"""Team scale: a rules library served from a git repository (file:// and git://)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.env import snapshot
from support.gitserver import git_daemon as serve_git
from support.repos import git, make_library, make_repo, rulesync, rulesync_commits

RULES = Path(".cursor/rules")


class Remote:
    """A bare repository on the local disk and a working clone that pushes to it."""

    def __init__(self, base: Path) -> None:
        self.bare = base / "team-rules.git"
        self.work = base / "team-rules-work"
        git(base, "init", "-q", "--bare", "-b", "main", str(self.bare))
        make_library(self.work)
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "config", "user.name", "Lead")
        git(self.work, "config", "user.email", "lead@example.com")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "library v1")
        git(self.work, "remote", "add", "origin", str(self.bare))
        git(self.work, "push", "-q", "origin", "main")

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD").strip()

    def commit_and_push(self, path: str, text: str, message: str = "update") -> str:
        (self.work / path).write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "main")
        return self.head()


def use_library(spec: str, *, trusted: str | None = None) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"library: '{spec}'"]
    if trusted:
        lines.append(f"libraries: ['{trusted}']")
    config.write_text("\n".join(lines) + "\n")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def new_project(path: Path) -> Path:
    repo = make_repo(path)
    (repo / ".rulesync.yaml").write_text("phase: advanced\n")
    return repo


def manifest(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / ".rulesync-manifest.json").read_text())
    return data


def test_apply_serves_the_library_revision_and_records_it(remote: Remote, tmp_path: Path) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p1")
    rulesync(project, "apply", check=0)
    assert manifest(project)["revision"] == remote.head()
    assert manifest(project)["library"] == f"{remote.url}#main"
    body = git(project, "log", "-1", "--format=%B")
    assert f"Rulesync-Library: {remote.url}#main {remote.head()}" in body
    assert (project / RULES / "monitoring.mdc").read_text() == (
        remote.work / "advanced" / "monitoring.mdc"
    ).read_text()


def test_a_pushed_rule_change_reaches_each_project_as_one_commit(
    remote: Remote, tmp_path: Path
) -> None:
    use_library(f"{remote.url}#main")
    projects = [new_project(tmp_path / f"p{i}") for i in range(2)]
    for project in projects:
        rulesync(project, "apply", check=0)
    old = remote.head()
    new = remote.commit_and_push("advanced/monitoring.mdc", "---\ndescription: m\n---\nv2\n")
    for project in projects:
        rulesync(project, "apply", check=0)  # without --update the served revision stays
        assert manifest(project)["revision"] == old
    for project in projects:
        rulesync(project, "apply", "--update", check=0)
        assert rulesync_commits(project)[0] == f"rulesync: library {old[:7]} → {new[:7]} (~1)"
        assert manifest(project)["revision"] == new
        assert (project / RULES / "monitoring.mdc").read_text().endswith("v2\n")
        assert len(rulesync_commits(project)) == 2


def test_a_library_change_outside_the_projects_tier_makes_no_commit(
    remote: Remote, tmp_path: Path
) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    remote.commit_and_push("enterprise/deployment-scale.mdc", "---\ndescription: k8s\n---\nv2\n")
    rulesync(project, "apply", "--update", check=0)
    assert len(rulesync_commits(project)) == 1


def test_check_in_ci_uses_the_recorded_revision(remote: Remote, tmp_path: Path) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    remote.commit_and_push("advanced/monitoring.mdc", "---\ndescription: m\n---\nv2\n")
    clone = tmp_path / "ci-clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    fresh_cache = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "ci-cache")}
    proc = rulesync(clone, "check", env=fresh_cache, check=0)
    assert "in sync" in proc.stdout


def test_status_says_which_revision_and_whether_a_newer_one_is_there(
    remote: Remote, tmp_path: Path
) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    first = remote.head()
    remote.commit_and_push("advanced/monitoring.mdc", "---\ndescription: m\n---\nv2\n")
    # A fetch by another project makes the newer revision known without serving it here.
    other = new_project(tmp_path / "other")
    rulesync(other, "apply", "--update", check=0)
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    doc = json.loads(rulesync(project, "status", "--json", check=0).stdout)
    assert doc["library_newest"] == remote.head()
    assert doc["library_revision"] in (first, remote.head())


def test_a_marker_may_name_a_repository_only_when_the_config_trusts_it(
    remote: Remote, tmp_path: Path
) -> None:
    project = new_project(tmp_path / "p")
    (project / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: '{remote.url}#main'\n")
    proc = rulesync(project, "apply", check=2)
    assert "does not trust" in proc.stderr
    use_library("default", trusted=remote.url)
    rulesync(project, "apply", check=0)
    assert manifest(project)["revision"] == remote.head()


def test_an_unreachable_url_is_a_clear_error(tmp_path: Path) -> None:
    use_library(f"file://{tmp_path}/nowhere.git#main")
    project = new_project(tmp_path / "p")
    proc = rulesync(project, "apply", check=1)
    assert "fetch failed" in proc.stderr and "Traceback" not in proc.stderr
    assert not (project / RULES).exists()


def test_a_ref_that_does_not_exist_is_a_clear_error(remote: Remote, tmp_path: Path) -> None:
    use_library(f"{remote.url}#no-such-branch")
    project = new_project(tmp_path / "p")
    proc = rulesync(project, "apply", check=2)
    assert "ref `no-such-branch` does not exist" in proc.stderr


def test_a_repository_that_is_not_a_rules_library_is_a_clear_error(tmp_path: Path) -> None:
    other = make_repo(tmp_path / "not-a-library")
    use_library(f"file://{other}#main")
    project = new_project(tmp_path / "p")
    proc = rulesync(project, "apply", check=2)
    assert "not a rules library" in proc.stderr


def test_a_force_pushed_branch_is_refused_and_projects_keep_their_rules(
    remote: Remote, tmp_path: Path
) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    before = (project / RULES / "logging.mdc").read_bytes()
    served = remote.head()
    (remote.work / "advanced" / "logging.mdc").write_text("---\ndescription: x\n---\nrewritten\n")
    git(remote.work, "commit", "-q", "-a", "--amend", "-m", "rewritten history")
    git(remote.work, "push", "-q", "--force", "origin", "main")
    proc = rulesync(project, "apply", "--update", check=1)
    assert "force-pushed" in proc.stderr and served[:7] in proc.stderr
    assert (project / RULES / "logging.mdc").read_bytes() == before
    rulesync(project, "apply", "--update", "--accept-rewrite", check=0)
    assert (project / RULES / "logging.mdc").read_text().endswith("rewritten\n")


def test_offline_the_last_fetched_revision_keeps_serving(remote: Remote, tmp_path: Path) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    shutil.move(remote.bare, tmp_path / "unplugged.git")
    proc = rulesync(project, "apply", "--update", check=1)
    assert "fetch failed" in proc.stderr
    rulesync(project, "check", check=0)
    (project / ".rulesync.yaml").write_text("phase: enterprise\n")
    rulesync(project, "apply", check=0)  # served from the cache, offline
    assert (project / RULES / "deployment-scale.mdc").exists()


def test_a_bad_revision_never_replaces_the_served_one(remote: Remote, tmp_path: Path) -> None:
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    (remote.work / "tiers.yaml").unlink()
    git(remote.work, "commit", "-q", "-a", "-m", "broken library")
    git(remote.work, "push", "-q", "origin", "main")
    proc = rulesync(project, "apply", "--update", check=2)
    assert "not a rules library" in proc.stderr
    rulesync(project, "apply", check=0)
    rulesync(project, "check", check=0)
    trees = Path(os.environ["XDG_CACHE_HOME"]) / "rulesync" / "libraries"
    leftovers = [p.name for p in trees.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []


def test_nothing_from_the_library_repository_runs(remote: Remote, tmp_path: Path) -> None:
    sentinel = tmp_path / "filter-ran"
    gitconfig = tmp_path / "user.gitconfig"
    gitconfig.write_text(
        f'[filter "evil"]\n\tsmudge = "touch {sentinel}; cat"\n\tclean = cat\n\trequired = true\n'
    )
    (remote.work / ".gitattributes").write_text("*.mdc filter=evil\n")
    remote.commit_and_push(".gitattributes", "*.mdc filter=evil\n", "attributes")
    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(gitconfig)}
    rulesync(project, "apply", env=env, check=0)
    assert not sentinel.exists()


@pytest.fixture
def git_daemon(remote: Remote) -> Iterator[str]:
    with serve_git(remote.bare.parent) as prefix:
        yield f"{prefix}/{remote.bare.name}"


def test_git_protocol_from_git_daemon_on_loopback(
    remote: Remote, git_daemon: str, tmp_path: Path
) -> None:
    use_library(f"{git_daemon}#main")
    project = new_project(tmp_path / "p")
    rulesync(project, "apply", check=0)
    assert manifest(project)["revision"] == remote.head()
    new = remote.commit_and_push("advanced/security.mdc", "---\ndescription: s\n---\nv2\n")
    rulesync(project, "apply", "--update", check=0)
    assert manifest(project)["revision"] == new


def test_a_library_revision_over_the_limits_is_refused_before_a_blob_is_read(
    remote: Remote, tmp_path: Path
) -> None:
    import resource

    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p1")
    rulesync(project, "apply", check=0)
    # 400 MiB of zeros: a pack of a few hundred KiB that reading whole would need 400 MiB.
    with (remote.work / "zeros.bin").open("wb") as out:
        for _ in range(400):
            out.write(bytes(1024 * 1024))
    git(remote.work, "add", "zeros.bin")
    git(remote.work, "commit", "-q", "-m", "a bomb")
    git(remote.work, "push", "-q", "origin", "main")
    before = snapshot(project)

    refusal = "zeros.bin is 419430400 bytes, over max_file_bytes"
    first = rulesync(project, "apply", "--update", check=2)  # fetched, then refused
    assert refusal in first.stderr and len(first.stderr.strip().splitlines()) == 1

    def small_memory() -> None:
        limit = 192 * 1024 * 1024  # far below what reading the blob would take
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    # Its objects now in the mirror, the revision is refused again without reading them.
    again = rulesync(project, "apply", "--update", preexec_fn=small_memory, check=2)
    assert refusal in again.stderr
    assert snapshot(project) == before
    from rulesync.remote import cache_root

    assert [t.name for t in cache_root().glob("*/trees/*")] == [manifest(project)["revision"]]


def test_only_the_most_recently_used_library_revisions_stay_materialised(
    remote: Remote, tmp_path: Path
) -> None:
    from rulesync.remote import KEEP_TREES, cache_root

    use_library(f"{remote.url}#main")
    project = new_project(tmp_path / "p1")
    pushed = []
    for i in range(KEEP_TREES + 3):
        pushed.append(remote.commit_and_push("advanced/monitoring.mdc", f"Watch {i}.\n"))
        rulesync(project, "apply", "--update", check=0)
    trees = [p.name for p in cache_root().glob("*/trees/*")]
    assert len(trees) == KEEP_TREES
    assert pushed[-1] in trees and pushed[0] not in trees
    # A project pinned to a pruned revision gets it back from the mirror's objects.
    (project / ".rulesync-manifest.json").write_text(
        (project / ".rulesync-manifest.json").read_text().replace(pushed[-1], pushed[0])
    )
    rulesync(project, "check", check=1)
    assert (project / RULES / "monitoring.mdc").read_text() == f"Watch {KEEP_TREES + 2}.\n"
    assert pushed[0] in [p.name for p in cache_root().glob("*/trees/*")]
