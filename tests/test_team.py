"""Team scale: the library is a property of the project. A team's library and a project are
served by a real `git daemon` on 127.0.0.1; a lead, a teammate with no config, CI with an empty
home and the service all get the same rules, pinned to the revision the project recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.daemon import Daemon
from support.env import isolated_env
from support.gitserver import git_daemon
from support.repos import git, make_library, make_repo, rulesync, rulesync_commits
from tests.test_remote_library import Remote

RULES = Path(".cursor/rules")
V2 = "---\ndescription: m\n---\nv2\n"


def write_config(home: Path, text: str) -> None:
    config = home / ".config" / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)


def manifest(project: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((project / ".rulesync-manifest.json").read_text())
    return data


class Team:
    """Served from one folder: the team's library and a project the lead set up with it.

    The lead's config names the library (as the README's team setup did); the lead applied
    once and pushed. The project's own origin is on the same git daemon."""

    def __init__(self, tmp: Path, served: Path, prefix: str) -> None:
        self.tmp = tmp
        self.prefix = prefix
        self.library = Remote(served)
        self.library_url = f"{prefix}/{self.library.bare.name}"
        self.lead_home = tmp / "lead-home"
        self.lead_env = isolated_env(self.lead_home)
        write_config(self.lead_home, f"library: '{self.library_url}#main'\n")
        self.bare = served / "project.git"
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.bare))
        self.lead = make_repo(tmp / "lead")
        (self.lead / ".rulesync.yaml").write_text("phase: advanced\n")
        git(self.lead, "remote", "add", "origin", f"{prefix}/project.git")
        git(self.lead, "remote", "set-url", "--push", "origin", str(self.bare))
        rulesync(self.lead, "apply", env=self.lead_env, check=0)
        git(self.lead, "push", "-q", "origin", "main")
        self.pinned = self.library.head()

    def clone(self, name: str) -> Path:
        """A teammate's clone of the project, from the git daemon."""
        where = self.tmp / name
        git(self.tmp, "clone", "-q", f"{self.prefix}/project.git", str(where))
        git(where, "config", "user.name", "Mate")
        git(where, "config", "user.email", "mate@example.com")
        return where

    def user(self, name: str) -> dict[str, str]:
        """The environment of a user with no rulesync config at all."""
        return isolated_env(self.tmp / f"{name}-home")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "served"
    folder.mkdir()
    with git_daemon(folder) as prefix:
        yield folder, prefix


@pytest.fixture
def team(tmp_path: Path, served: tuple[Path, str]) -> Team:
    return Team(tmp_path, *served)


def history(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%H").split()


# The bugs --------------------------------------------------------------------------------


def test_a_library_whose_bare_head_names_a_missing_branch_is_fetched(
    tmp_path: Path, served: tuple[Path, str]
) -> None:
    folder, prefix = served
    # `git init --bare` names `master`; the team pushed only `main`.
    bare = folder / "rules.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(bare))
    work = make_library(tmp_path / "rules-work")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.name=L", "-c", "user.email=l@example.com", "commit", "-qm", "v1")
    git(work, "push", "-q", str(bare), "main")
    head = git(work, "rev-parse", "HEAD").strip()
    for spec, name in ((f"{prefix}/rules.git#main", "named"), (f"{prefix}/rules.git", "default")):
        write_config(Path(os.environ["HOME"]), f"library: '{spec}'\n")
        project = make_repo(tmp_path / name)
        (project / ".rulesync.yaml").write_text("phase: advanced\n")
        rulesync(project, "apply", check=0)
        assert manifest(project)["revision"] == head
        assert (project / RULES / "monitoring.mdc").exists()


def test_a_teammate_without_the_config_keeps_the_projects_library(team: Team) -> None:
    mate = team.clone("mate")
    before = history(mate)
    proc = rulesync(mate, "apply", env=team.user("mate"), check=0)
    assert "in sync" in proc.stdout
    assert history(mate) == before  # no `update advanced rules` commit reverting the team's
    assert manifest(mate)["library"] == f"{team.library_url}#main"
    assert manifest(mate)["revision"] == team.pinned
    for name in ("logging.mdc", "monitoring.mdc", "security.mdc"):
        assert (mate / RULES / name).read_bytes() == (team.lead / RULES / name).read_bytes()


def test_a_teammate_whose_config_names_another_library_is_refused_naming_both(
    team: Team,
) -> None:
    mate = team.clone("mate")
    env = team.user("mate")
    other = make_library(team.tmp / "my-rules")
    write_config(Path(env["HOME"]), f"library: {other}\n")
    before = history(mate)
    proc = rulesync(mate, "apply", env=env, check=2)
    assert f"{team.library_url}#main" in proc.stderr and str(other) in proc.stderr
    assert "rulesync library set" in proc.stderr
    assert history(mate) == before
    assert git(mate, "status", "--porcelain") == ""
    rulesync(mate, "check", env=env, check=2)


def test_ci_with_no_config_and_an_empty_home_checks_the_pinned_revision(team: Team) -> None:
    ci = team.clone("ci")
    home = team.tmp / "ci-home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "CI": "true", "HOME": str(home)}
    team.library.commit_and_push("advanced/monitoring.mdc", V2)  # newer than the pin
    proc = rulesync(ci, "check", env=env, check=0)
    assert "in sync" in proc.stdout
    doc = json.loads(rulesync(ci, "status", "--json", env=env, check=0).stdout)
    assert doc["library_revision"] == team.pinned and doc["drift"] is False
    # A rule edited in the clone is drift, as on the lead's machine.
    (ci / RULES / "monitoring.mdc").write_text("edited\n")
    rulesync(ci, "check", env=env, check=1)


def test_check_diff_and_status_agree_once_another_project_fetched_a_newer_revision(
    team: Team,
) -> None:
    newer = team.library.commit_and_push("advanced/monitoring.mdc", V2)
    other = make_repo(team.tmp / "other")
    (other / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(other, "apply", env=team.lead_env, check=0)
    assert manifest(other)["revision"] == newer
    # The lead's cache now knows the newer revision; the project still pins the older one.
    assert "in sync" in rulesync(team.lead, "check", env=team.lead_env, check=0).stdout
    assert rulesync(team.lead, "diff", env=team.lead_env, check=0).stdout == ""
    doc = json.loads(rulesync(team.lead, "status", "--json", env=team.lead_env, check=0).stdout)
    assert doc["drift"] is False
    assert doc["library_revision"] == team.pinned and doc["library_newest"] == newer
    rulesync(team.lead, "apply", env=team.lead_env, check=0)
    assert manifest(team.lead)["revision"] == team.pinned


def test_a_moved_tag_is_reported_not_followed(team: Team) -> None:
    git(team.library.work, "tag", "v1")
    git(team.library.work, "push", "-q", "origin", "v1")
    project = make_repo(team.tmp / "tagged")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    write_config(team.lead_home, f"library: '{team.library_url}#v1'\n")
    rulesync(project, "apply", env=team.lead_env, check=0)
    first = manifest(project)["revision"]
    newer = team.library.commit_and_push("advanced/monitoring.mdc", V2)
    git(team.library.work, "tag", "-f", "v1")
    git(team.library.work, "push", "-q", "-f", "origin", "v1")
    before = (project / RULES / "monitoring.mdc").read_bytes()
    proc = rulesync(project, "apply", "--update", env=team.lead_env, check=1)
    assert "tag `v1` moved" in proc.stderr
    assert str(first)[:7] in proc.stderr and newer[:7] in proc.stderr
    assert (project / RULES / "monitoring.mdc").read_bytes() == before
    rulesync(project, "apply", env=team.lead_env, check=0)
    assert manifest(project)["revision"] == first
    rulesync(project, "apply", "--update", "--accept-rewrite", env=team.lead_env, check=0)
    assert manifest(project)["revision"] == newer


# Trust -------------------------------------------------------------------------------------


def test_a_committed_marker_may_name_a_library_beside_the_projects_origin(team: Team) -> None:
    (team.lead / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: '{team.library_url}'\n")
    rulesync(team.lead, "apply", env=team.lead_env, check=0)
    git(team.lead, "push", "-q", "origin", "main")
    mate = team.clone("mate")
    rulesync(mate, "check", env=team.user("mate"), check=0)


def test_a_committed_marker_naming_another_host_needs_the_users_consent(team: Team) -> None:
    mate = team.clone("mate")
    elsewhere = team.library_url.replace("127.0.0.1", "localhost")
    (mate / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: '{elsewhere}#main'\n")
    env = team.user("mate")
    proc = rulesync(mate, "apply", env=env, check=2)
    assert "does not trust" in proc.stderr and "origin" in proc.stderr
    write_config(Path(env["HOME"]), f"libraries: ['{elsewhere}']\n")
    rulesync(mate, "apply", env=env, check=0)


def test_a_committed_marker_naming_a_file_library_is_refused_without_consent(
    team: Team,
) -> None:
    mate = team.clone("mate")
    url = f"file://{team.library.bare}"
    (mate / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: '{url}#main'\n")
    git(mate, "commit", "-qam", "library from a local path")
    env = team.user("mate")
    before = history(mate)
    proc = rulesync(mate, "apply", env=env, check=2)
    assert "does not trust" in proc.stderr
    assert history(mate) == before
    rulesync(mate, "check", env=env, check=2)
    write_config(Path(env["HOME"]), f"libraries: ['{url}']\n")
    rulesync(mate, "apply", env=env, check=0)
    assert manifest(mate)["revision"] == team.library.head()


@pytest.mark.parametrize(
    ("library", "origin", "trusted"),
    [
        ("https://git.example.com/t/rules.git", "https://git.example.com/t/app.git", True),
        ("https://git.example.com/t/rules.git", "git@git.example.com:t/app.git", True),
        ("ssh://git@git.example.com/t/rules.git", "https://GIT.example.com/t/app", True),
        ("git@git.example.com:t/rules.git", "ssh://git@git.example.com/t/app.git", True),
        ("git://127.0.0.1:9000/rules.git", "git://127.0.0.1:9000/app.git", True),
        ("git://127.0.0.1:9000/rules.git", "git://127.0.0.1:9001/app.git", False),
        ("git://git.example.com/rules.git", "https://git.example.com/t/app.git", False),
        ("http://git.example.com/rules.git", "https://git.example.com/t/app.git", False),
        ("https://other.example.com/rules.git", "https://git.example.com/t/app.git", False),
        ("https://git.example.com:8443/rules.git", "git@git.example.com:t/app.git", False),
        ("file:///srv/rules.git", "file:///srv/app.git", False),
        ("https://git.example.com/t/rules.git", "/home/me/app", False),
        ("https://git.example.com/t/rules.git", None, False),
    ],
)
def test_which_repositories_a_project_may_name_without_consent(
    library: str, origin: str | None, trusted: bool
) -> None:
    from rulesync.remote import served_beside

    assert served_beside(library, origin) is trusted


# Changing the library -----------------------------------------------------------------------


def test_library_set_changes_the_library_in_one_commit_that_says_so(
    tmp_path: Path, served: tuple[Path, str]
) -> None:
    folder, prefix = served
    remote = Remote(folder)
    url = f"{prefix}/{remote.bare.name}#main"
    write_config(Path(os.environ["HOME"]), f"libraries: ['{prefix}/{remote.bare.name}']\n")
    project = make_repo(tmp_path / "p")
    (project / ".rulesync.yaml").write_text("# our phase\nphase: advanced\n")
    rulesync(project, "apply", check=0)
    assert manifest(project)["library"] == "default"
    rulesync(project, "library", "set", url, check=0)
    subject = rulesync_commits(project)[0]
    assert subject.startswith(f"rulesync: library default → {url} (")
    assert f"library: '{url}'" in (project / ".rulesync.yaml").read_text()
    assert "# our phase" in (project / ".rulesync.yaml").read_text()
    assert git(project, "status", "--porcelain") == ""
    assert manifest(project)["revision"] == remote.head()
    doc = json.loads(rulesync(project, "library", "--json", check=0).stdout)
    assert doc == {"library": url, "said_by": "marker", "revision": remote.head()}
    # Editing the marker by hand says so the same way.
    (project / ".rulesync.yaml").write_text("phase: advanced\nlibrary: default\n")
    rulesync(project, "apply", check=0)
    assert rulesync_commits(project)[0].startswith(f"rulesync: library {url} → default (")


def test_library_set_refuses_what_the_project_could_not_use(
    tmp_path: Path, served: tuple[Path, str]
) -> None:
    project = make_repo(tmp_path / "p")
    (project / ".rulesync.yaml").write_text("phase: basic\n")
    rulesync(project, "apply", check=0)
    before = (project / ".rulesync.yaml").read_bytes()
    proc = rulesync(project, "library", "set", f"file://{tmp_path}/nowhere.git", check=2)
    assert "does not trust" in proc.stderr
    assert (project / ".rulesync.yaml").read_bytes() == before
    rulesync(project, "library", "set", check=2)
    proc = rulesync(project, "library", "set", "https://me:s3cret@git.example.com/r.git", check=2)
    assert "credentials" in proc.stderr and "s3cret" not in proc.stderr
    assert (project / ".rulesync.yaml").read_bytes() == before


def test_apply_update_moves_the_pin_and_says_what_changed(team: Team) -> None:
    newer = team.library.commit_and_push("advanced/monitoring.mdc", V2)
    rulesync(team.lead, "apply", env=team.lead_env, check=0)
    assert manifest(team.lead)["revision"] == team.pinned
    rulesync(team.lead, "apply", "--update", env=team.lead_env, check=0)
    subject = rulesync_commits(team.lead)[0]
    assert subject == f"rulesync: library {team.pinned[:7]} → {newer[:7]} (~1)"
    assert manifest(team.lead)["revision"] == newer


def test_the_service_with_no_config_serves_a_clone_at_its_pinned_revision(
    team: Team, daemon: Daemon
) -> None:
    mate = team.clone("mate")  # the service runs as this test's user, who has no config
    team.library.commit_and_push("advanced/monitoring.mdc", V2)  # newer than the pin
    before = history(mate)
    rulesync(mate, "projects", "add", str(mate), check=0)
    daemon.start()  # returns once the start-up reconcile synced every project
    listed = json.loads(rulesync(mate, "projects", "list", "--json", check=0).stdout)
    assert [(p["state"], p["source"]) for p in listed["projects"]] == [("in sync", "service")]
    assert history(mate) == before
    assert manifest(mate)["revision"] == team.pinned
    assert "in sync" in rulesync(mate, "check", check=0).stdout


def test_the_service_never_moves_a_project_to_the_users_new_default_library(
    tmp_path: Path, daemon: Daemon
) -> None:
    project = make_repo(tmp_path / "p")
    (project / ".rulesync.yaml").write_text("phase: advanced\n")
    rulesync(project, "apply", check=0)  # follows the bundled library from now on
    rulesync(project, "projects", "add", str(project), check=0)
    mine = make_library(tmp_path / "my-rules")
    write_config(Path(os.environ["HOME"]), f"library: {mine}\n")
    before = history(project)
    daemon.start()
    listed = json.loads(rulesync(project, "projects", "list", "--json", check=1).stdout)
    [line] = listed["projects"]
    assert line["state"] == "failing" and "would change that" in line["why"]
    assert str(mine) in line["why"] and "`default`" in line["why"]
    assert history(project) == before


def test_a_users_mirror_serves_the_projects_library_without_changing_it(team: Team) -> None:
    mate = team.clone("mate")
    copy = team.tmp / "local-copy.git"
    git(team.tmp, "clone", "-q", "--bare", str(team.library.bare), str(copy))
    team.library.bare.rename(team.tmp / "gone.git")  # the team's server no longer has it
    env = team.user("mate")
    url = team.library_url
    write_config(Path(env["HOME"]), f"mirrors:\n  '{url}': 'file://{copy}'\n")
    before = history(mate)
    assert "in sync" in rulesync(mate, "apply", env=env, check=0).stdout
    assert history(mate) == before
    assert manifest(mate)["library"] == f"{url}#main"
    assert manifest(mate)["revision"] == team.pinned
    # Without the mirror, the same fetch fails (retried later), and nothing changes.
    write_config(Path(env["HOME"]), "")
    fresh = {**env, "XDG_CACHE_HOME": str(team.tmp / "fresh-cache")}
    assert "fetch failed" in rulesync(mate, "check", env=fresh, check=1).stderr


def test_a_mirror_must_name_a_repository(team: Team) -> None:
    mate = team.clone("mate")
    env = team.user("mate")
    write_config(Path(env["HOME"]), f"mirrors:\n  '{team.library_url}': 'relative/path'\n")
    proc = rulesync(mate, "check", env=env, check=2)
    assert "mirrors:" in proc.stderr and "config.yaml" in proc.stderr
