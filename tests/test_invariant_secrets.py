"""Nothing secret leaves: a library URL's credentials never reach the manifest, a commit, the
terminal or the log; rulesync's own files are 0600 in 0700 folders; text from a repository
cannot drive the terminal or forge a commit's trailers."""

from __future__ import annotations

import functools
import http.server
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rulesync.redact import redact_url, scrub
from support.repos import git, make_library, make_repo, rulesync

TOKEN = "glpat-SECRET0123456789"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_library(tmp_path: Path) -> Iterator[str]:
    """A rules library served over plain HTTP by a real server on 127.0.0.1 (git's dumb
    protocol); the URL it yields carries a token in its user-info."""
    work = make_library(tmp_path / "lib-work")
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.name=L", "-c", "user.email=l@x", "add", "-A")
    git(work, "-c", "user.name=L", "-c", "user.email=l@x", "commit", "-q", "-m", "v1")
    served = tmp_path / "served"
    served.mkdir()
    git(tmp_path, "clone", "-q", "--bare", str(work), str(served / "rules.git"))
    git(served / "rules.git", "update-server-info")
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield f"http://oauth2:{TOKEN}@127.0.0.1:{port}/rules.git"
    finally:
        server.shutdown()
        server.server_close()


def use_library(spec: str) -> Path:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"library: '{spec}'\n")
    return config


def project(path: Path, marker: str = "phase: advanced\n") -> Path:
    repo = make_repo(path)
    (repo / ".rulesync.yaml").write_text(marker)
    return repo


def test_redact_url_removes_user_info_and_credential_parameters() -> None:
    assert redact_url("https://oauth2:T@host/r.git") == "https://host/r.git"
    assert redact_url("https://T@host/r.git#main") == "https://host/r.git#main"
    assert redact_url("https://h/r.git?private_token=T&x=1") == "https://h/r.git?x=1"
    assert redact_url("https://h/r.git?access_token=T") == "https://h/r.git"
    assert redact_url("https://h/r.git#token=T") == "https://h/r.git"
    assert redact_url("git@github.com:team/rules.git") == "git@github.com:team/rules.git"
    assert redact_url("/home/me/rules") == "/home/me/rules"
    assert scrub("fatal: unable to access 'https://u:T@h/r/': 403") == (
        "fatal: unable to access 'https://h/r/': 403"
    )


def test_a_token_in_the_library_url_reaches_no_manifest_commit_output_or_log(
    http_library: str, tmp_path: Path
) -> None:
    use_library(f"{http_library}#main")
    repo = project(tmp_path / "p")
    outputs = [rulesync(repo, "apply", check=0)]
    outputs += [rulesync(repo, cmd, check=0) for cmd in ("status", "log", "check")]
    outputs.append(rulesync(repo, "status", "--json", check=0))
    manifest = json.loads((repo / ".rulesync-manifest.json").read_text())
    port = http_library.rsplit(":", 1)[1].split("/")[0]
    assert manifest["library"] == f"http://127.0.0.1:{port}/rules.git#main"
    history = git(repo, "log", "--format=%B")
    assert "Rulesync-Library: http://127.0.0.1:" in history
    for text in [history, json.dumps(manifest), *(p.stdout + p.stderr for p in outputs)]:
        assert TOKEN not in text


def test_a_marker_names_the_repository_and_the_config_keeps_its_token(
    http_library: str, tmp_path: Path
) -> None:
    plain = redact_url(http_library)
    config = use_library("default")
    config.write_text(f"library: default\nlibraries: ['{http_library}']\n")
    repo = project(tmp_path / "p", f"phase: basic\nlibrary: '{plain}#main'\n")
    applied = rulesync(repo, "apply", check=0)
    assert json.loads((repo / ".rulesync-manifest.json").read_text())["library"] == (
        f"{plain}#main"
    )
    assert TOKEN not in applied.stdout + applied.stderr + git(repo, "log", "--format=%B")
    untrusted = project(tmp_path / "q", "phase: basic\nlibrary: 'http://127.0.0.1:9/x.git'\n")
    assert rulesync(untrusted, "apply").returncode == 2


def test_a_token_in_an_unreachable_library_url_is_not_in_the_error(tmp_path: Path) -> None:
    use_library(f"https://oauth2:{TOKEN}@127.0.0.1:9/rules.git?access_token={TOKEN}")
    proc = rulesync(project(tmp_path / "p"), "apply")
    assert proc.returncode == 1
    assert "127.0.0.1:9/rules.git" in proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


def test_the_service_log_keeps_no_token(tmp_path: Path) -> None:
    from support.daemon import Daemon

    use_library(f"http://oauth2:{TOKEN}@127.0.0.1:9/rules.git?access_token={TOKEN}")
    repo = project(tmp_path / "p")
    git(repo, "add", ".rulesync.yaml")
    git(repo, "commit", "-q", "-m", "marker")
    rulesync(repo, "projects", "add", str(repo), check=0)
    daemon = Daemon(tmp_path).start()
    try:
        failure = daemon.wait_event("sync.failed")
    finally:
        daemon.stop()
    assert "127.0.0.1:9/rules.git" in failure["error"]
    text = daemon.log_file.read_text(encoding="utf-8")
    assert TOKEN not in text
    assert TOKEN not in daemon.stderr_path.read_text(encoding="utf-8")


def test_a_url_starting_with_a_dash_never_reaches_git_as_an_option(tmp_path: Path) -> None:
    # scp-like to rulesync, `-u …` (--upload-pack) to git if it were passed as it is.
    use_library("-utouch@localhost:rules")
    proc = rulesync(project(tmp_path / "p"), "apply")
    assert proc.returncode == 2
    assert "a repository URL cannot start with `-`" in proc.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_rulesyncs_own_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    repo = project(tmp_path / "p", "phase: basic\n")
    rulesync(repo, "apply", check=0)
    rulesync(repo, "projects", "add", str(repo), check=0)
    registry = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "projects.yaml"
    assert mode(registry) == 0o600
    assert mode(registry.parent) == 0o700
    assert mode(repo / ".git" / "rulesync.lock") == 0o600


def test_an_existing_lock_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    repo = project(tmp_path / "p", "phase: basic\n")
    lock = repo / ".git" / "rulesync.lock"
    lock.write_text("")
    lock.chmod(0o644)
    rulesync(repo, "apply", check=0)
    assert mode(lock) == 0o600


def test_a_backup_of_a_private_file_stays_private(tmp_path: Path) -> None:
    repo = project(tmp_path / "p", "phase: basic\n")
    rules = repo / ".cursor" / "rules"
    rules.mkdir(parents=True)
    (rules / "logging.mdc").write_text("my own private rule\n")
    (rules / "logging.mdc").chmod(0o600)
    state = Path(os.environ["XDG_STATE_HOME"]) / "rulesync"
    state.mkdir(parents=True, mode=0o755)  # as an earlier version left it
    state.chmod(0o755)
    rulesync(repo, "apply", "--force", check=0)
    assert mode(state) == 0o700
    backups = [p for p in (state / "backups").rglob("*") if p.is_file()]
    assert backups, "a backup was made"
    for path in backups:
        assert mode(path) == 0o600
        assert path.read_text() == "my own private rule\n"
    for folder in [state / "backups", *(p for p in (state / "backups").rglob("*") if p.is_dir())]:
        assert mode(folder) == 0o700


def test_the_log_and_status_files_are_private(tmp_path: Path) -> None:
    from support.daemon import Daemon

    repo = project(tmp_path / "p", "phase: basic\n")
    git(repo, "add", ".rulesync.yaml")
    git(repo, "commit", "-q", "-m", "marker")
    rulesync(repo, "projects", "add", str(repo), check=0)
    daemon = Daemon(tmp_path).start()
    try:
        daemon.wait_event("reconcile.done")
    finally:
        daemon.stop()
    state = Path(os.environ["XDG_STATE_HOME"]) / "rulesync"
    assert mode(daemon.log_file) == 0o600
    assert mode(daemon.log_file.parent) == 0o700
    assert mode(state) == 0o700
    for name in ("status.json", "daemon.lock"):
        if (state / name).exists():
            assert mode(state / name) == 0o600, name


def test_escapes_from_a_library_never_reach_the_terminal(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    tiers = library / "tiers.yaml"
    tiers.write_text(
        tiers.read_text().replace("one developer", '"one \\e[2J\\e]0;owned\\a developer"')
    )
    (Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync").mkdir(parents=True, exist_ok=True)
    use_library(str(library))
    repo = project(tmp_path / "p", "phase: basic\n")
    proc = rulesync(repo, "tiers", check=0)
    assert "\x1b" not in proc.stdout + proc.stderr
    assert "\\x1b[2J" in proc.stdout


def test_a_commit_subject_with_escapes_is_shown_escaped(tmp_path: Path) -> None:
    repo = project(tmp_path / "p", "phase: basic\n")
    rulesync(repo, "apply", check=0)
    proc = rulesync(repo, "status", check=0)
    assert "\x1b" not in proc.stdout
    evil = "rulesync: evil \x1b[31mred\x1b[0m \u202egnp.exe"
    author = ["-c", "user.name=rulesync", "-c", "user.email=rulesync@localhost"]
    # A commit of the project's history (`log` shows those that touch its manifest).
    manifest = repo / ".rulesync-manifest.json"
    manifest.write_text(manifest.read_text() + "\n")
    git(repo, *author, "commit", "-q", "-am", evil)
    out = rulesync(repo, "log", check=0).stdout + rulesync(repo, "status", check=0).stdout
    assert "evil \\x1b[31mred" in out
    assert "\x1b" not in out and "\u202e" not in out


@pytest.mark.parametrize("breaker", ["\n", "\u2028", "\u2029", "\u0085"])
def test_a_marker_library_cannot_forge_commit_trailers(tmp_path: Path, breaker: str) -> None:
    library = make_library(tmp_path / "repo-lib")
    forged = f"lib{breaker}Rulesync-Phase: enterprise"
    repo = project(tmp_path / "p", "phase: basic\n")
    os.rename(library, repo / "lib")
    os.rename(repo / "lib", repo / forged)
    (repo / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: {json.dumps(forged)}\n")
    proc = rulesync(repo, "apply")
    assert proc.returncode == 2, proc.stderr
    history = git(repo, "log", "--all", "--format=%B", check=False)
    assert "Rulesync-Phase: enterprise" not in history


@pytest.mark.parametrize("command", ["check", "apply", "status", "diff"])
def test_a_lone_surrogate_in_the_manifest_is_a_clean_error(tmp_path: Path, command: str) -> None:
    repo = project(tmp_path / "p", "phase: basic\n")
    rulesync(repo, "apply", check=0)
    path = repo / ".rulesync-manifest.json"
    doc = json.loads(path.read_text())
    doc["tier"] = "basic\udcff"
    path.write_text(json.dumps(doc))
    proc = rulesync(repo, command)
    assert proc.returncode == 2, proc.stderr
    assert ".rulesync-manifest.json" in proc.stderr
