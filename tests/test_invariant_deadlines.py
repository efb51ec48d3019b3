"""One project cannot stall or sink the service: each fetch and each sync has a deadline, a
project that overruns is failed, logged and backed off, and every other project keeps
syncing. Deadlines are configured small here; no assertion depends on how long anything took."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulesync.globs import MAX_BRACE_PATTERNS, expand_braces, glob_matches
from rulesync.suggest import did_you_mean
from support.daemon import Daemon, add_config, config_file, new_project, wait_commits
from support.repos import make_library, make_repo, rule_text, rulesync


class SilentServer:
    """A real TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


def hanging_url(server: SilentServer, scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{server.port}/rules.git"


def stalled_and_healthy(tmp_path: Path, url: str, **config: object) -> tuple[Path, Path]:
    """A project whose library server never answers (registered first, so it is synced
    first), and a healthy one beside it."""
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(f"libraries: ['{url}']\n")
    add_config(**config)
    stalled = new_project(tmp_path / "stalled", register=False)
    (stalled / ".rulesync.yaml").write_text(f"phase: basic\nlibrary: '{url}'\n")
    rulesync(stalled, "projects", "add", str(stalled), check=0)
    healthy = new_project(tmp_path / "healthy")
    return stalled, healthy


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_a_library_server_that_never_answers_fails_its_project_only(
    tmp_path: Path, silent: SilentServer, scheme: str
) -> None:
    stalled, healthy = stalled_and_healthy(
        tmp_path, hanging_url(silent, scheme), fetch_timeout=2, sync_timeout=600
    )
    daemon = Daemon(tmp_path).start()
    try:
        assert wait_commits(healthy, 1)
        failure = daemon.wait_event("sync.failed", project=str(stalled))
        assert "did not finish within 2 s" in failure["error"]
        assert "fetch_timeout" in failure["error"]
        assert failure["retry_in"] > 0
    finally:
        daemon.stop()
    assert not (stalled / ".cursor").exists()


def test_a_sync_past_its_deadline_is_given_up_and_the_others_keep_syncing(
    tmp_path: Path, silent: SilentServer
) -> None:
    stalled, healthy = stalled_and_healthy(
        tmp_path, hanging_url(silent, "git"), fetch_timeout=3600, sync_timeout=2
    )
    daemon = Daemon(tmp_path).start()
    try:
        assert wait_commits(healthy, 1)
        failure = daemon.wait_event("sync.failed", project=str(stalled))
        assert "did not finish within 2 s" in failure["error"]
        assert "sync_timeout" in failure["error"]
        # The service still serves: a phase change in the healthy project is synced.
        (healthy / ".rulesync.yaml").write_text("phase: advanced\n")
        assert wait_commits(healthy, 2)
    finally:
        daemon.stop()


def test_apply_gives_up_a_fetch_past_its_deadline(tmp_path: Path, silent: SilentServer) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(f"library: '{hanging_url(silent, 'git')}'\nfetch_timeout: 1\n")
    repo = make_repo(tmp_path / "p")
    (repo / ".rulesync.yaml").write_text("phase: basic\n")
    proc = rulesync(repo, "apply", timeout=120)
    assert proc.returncode == 1
    assert "did not finish within 1 s (fetch_timeout in the rulesync config)" in proc.stderr


def _reference_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression globs were matched with before (exponential in `**/`)."""
    pattern = pattern.strip().removeprefix("./")
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    out = [] if anchored else ["(?:.*/)?"]
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + "(?:/.*)?", re.DOTALL)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.text(alphabet="ab/*?.", max_size=8),
    st.text(alphabet="ab/.", max_size=10),
)
def test_the_linear_glob_matcher_agrees_with_the_regular_expression(
    pattern: str, path: str
) -> None:
    if not pattern.strip():
        return
    assert glob_matches(pattern, path) == (_reference_regex(pattern).fullmatch(path) is not None)


def test_many_double_star_segments_match_in_linear_time() -> None:
    pattern = "**/" * 40 + "x.py"
    path = "a/" * 60 + "y.py"
    assert glob_matches(pattern, path) is False
    assert glob_matches(pattern, "a/" * 60 + "x.py") is True


def test_a_brace_bomb_is_refused_by_lint_and_apply(tmp_path: Path) -> None:
    library = make_library(tmp_path / "lib")
    bomb = "src/" + "{a,b}" * 22 + ".ts"
    (library / "basic" / "bomb.mdc").write_text(rule_text("bomb", "x", globs=bomb))
    linted = rulesync(tmp_path, "lint", str(library))
    assert linted.returncode == 1
    assert f"more than {MAX_BRACE_PATTERNS} patterns" in linted.stdout
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(f"library: '{library}'\n")
    repo = make_repo(tmp_path / "p")
    (repo / ".rulesync.yaml").write_text("phase: basic\ntargets: [cursor, copilot]\n")
    proc = rulesync(repo, "apply")
    assert proc.returncode == 2
    assert f"more than {MAX_BRACE_PATTERNS} patterns" in proc.stderr
    assert not (repo / ".github").exists()
    assert expand_braces("{a,b}/{c,d}") == ["a/c", "a/d", "b/c", "b/d"]


def test_phase_rewrites_a_crlf_marker_with_long_blanks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "p")
    blanks = " " * 20000
    (repo / ".rulesync.yaml").write_bytes(f"phase:{blanks}basic{blanks}# mine\r\n".encode())
    rulesync(repo, "phase", "advanced", "--no-apply", check=None)
    text = (repo / ".rulesync.yaml").read_bytes().decode()
    assert text == f"phase:{blanks}advanced{blanks}# mine\r\n"


def test_did_you_mean_over_thousands_of_look_alike_names_is_bounded() -> None:
    names = [f"rule-{i:04d}-" + "a" * 80 for i in range(5000)]
    word = "rule-9999-" + "a" * 79 + "b"
    # The suggestion is made from a bounded sample: still a close name, never all 5,000.
    assert did_you_mean(word, names).startswith(" (did you mean `rule-")
    assert did_you_mean("basci", ["basic", "advanced"]) == " (did you mean `basic`?)"
    assert did_you_mean("x" * 1000, names) == ""
