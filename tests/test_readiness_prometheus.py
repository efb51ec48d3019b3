"""The `prometheus` metric source against a real Prometheus server (Debian's package), started
on the loopback address with series backfilled by `promtool`; and servers that cannot answer."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from rulesync.prometheus import public_url, query, query_range
from support.daemon import wait_for
from support.env import stop_process
from support.repos import git, rulesync

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
DAY = 86400
# The loaded series: `active_users` a sample a minute over the last 3 days, its
# highest value at a known time; `up` for two targets, one down a quarter of the time.
PEAK = 137


def _install() -> str | None:
    """Install Debian's prometheus package when missing; why not, when it cannot be."""
    if PROMETHEUS.exists() and PROMTOOL.exists():
        return None
    if shutil.which("apt-get") is None:
        return "prometheus is not installed and there is no apt-get to install it"
    for args in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"],
    ):
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        if proc.returncode != 0:
            return f"`{' '.join(args)}` failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
    if not (PROMETHEUS.exists() and PROMTOOL.exists()):
        return "the prometheus package installed no /usr/bin/prometheus and /usr/bin/promtool"
    return None


@pytest.fixture(scope="session")
def prometheus_installed() -> None:
    """Debian's prometheus, installed once per session when missing (skipped with the reason
    when it cannot be)."""
    reason = _install()
    if reason is not None:
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Loaded(NamedTuple):
    url: str
    now: int


def openmetrics(now: int) -> str:
    """Known series over the last three days, ending a minute before `now`."""
    lines = ["# TYPE active_users gauge", "# TYPE up gauge"]
    start = now - 3 * DAY
    users, up = [], []
    for step, t in enumerate(range(start, now - 60, 60)):
        # 40 to 90 users, and 137 once, a day and a half ago.
        value = PEAK if t == start + DAY * 3 // 2 else 40 + (step % 6) * 10
        users.append(f"active_users {value} {t}")
        up.append(f'up{{instance="a"}} 1 {t}')
        up.append(f'up{{instance="b"}} {0 if step % 4 == 0 else 1} {t}')
    return "\n".join([*lines[:1], *users, *lines[1:], *up, "# EOF", ""])


@pytest.fixture(scope="module")
def prometheus_server(
    prometheus_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    """A real Prometheus on 127.0.0.1 and a free port, its storage backfilled with the series
    of `openmetrics`; stopped after."""
    base = tmp_path_factory.mktemp("prometheus")
    now = int(time.time())
    data = base / "series.om"
    data.write_text(openmetrics(now))
    storage = base / "data"
    storage.mkdir()
    made = subprocess.run(
        [str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(data), str(storage)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    config = base / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    log = (base / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={storage}",
            "--storage.tsdb.retention.time=3650d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError((base / "prometheus.log").read_text()[-2000:])
            answer = query(url, "count(max_over_time(active_users[1h]))", timeout=2)
            return answer.value == 1

        wait_for("Prometheus to answer with the loaded series", ready, timeout=120)
        yield Loaded(url, now)
    finally:
        stop_process(proc)
        log.close()


def test_an_instant_query_returns_the_loaded_figures(prometheus_server: Loaded) -> None:
    url = prometheus_server.url
    assert query(url, "max_over_time(active_users[7d])", timeout=5).value == PEAK
    assert query(url, "min_over_time(active_users[7d])", timeout=5).value == 40
    # `up` of b is 0 one sample in four: the two targets together were up 7/8 of the time.
    availability = query(url, "100 * avg(avg_over_time(up[7d]))", timeout=5).value
    assert availability is not None and abs(availability - 87.5) < 0.5


def test_several_series_or_none_are_no_figure(prometheus_server: Loaded) -> None:
    url = prometheus_server.url
    several = query(url, "avg_over_time(up[7d])", timeout=5)
    assert several.value is None and "2 series" in several.note
    nothing = query(url, "no_such_metric", timeout=5)
    assert nothing.value is None and "no data" in nothing.note


def test_a_query_prometheus_refuses_is_no_figure_with_its_reason(prometheus_server: Loaded) -> None:
    answer = query(prometheus_server.url, "rate(active_users)", timeout=5)
    assert answer.value is None and "HTTP 400" in answer.note


def test_a_range_query_gives_the_figure_of_each_day(prometheus_server: Loaded) -> None:
    now = prometheus_server.now
    answer = query_range(
        prometheus_server.url,
        "max_over_time(active_users[1d])",
        start=now - 2 * DAY,
        end=now,
        step=DAY,
        timeout=5,
    )
    values = [v for _, v in answer.points]
    # The peak, a day and a half ago, is inside the day that ends a day ago only.
    assert values == [90, PEAK, 90]


def credentials_url(url: str) -> str:
    return url.replace("http://", "http://reader:s3cret@")


def test_readiness_shows_prometheus_figures_and_never_the_credentials(
    prometheus_server: Loaded, repo: Path
) -> None:
    (repo / ".rulesync.yaml").write_text(
        f"phase: basic\nprometheus: {credentials_url(prometheus_server.url)}\n"
    )
    proc = rulesync(repo, "readiness", check=0)
    assert f"concurrent_users = {PEAK} (prometheus: max_over_time(active_users[7d])" in proc.stdout
    assert "s3cret" not in proc.stdout + proc.stderr
    doc = json.loads(rulesync(repo, "readiness", "--json", check=0).stdout)
    assert doc["prometheus"] == prometheus_server.url
    assert "s3cret" not in json.dumps(doc)
    enterprise = doc["tiers"][-1]
    users = next(c for c in enterprise["criteria"] if c["metric"] == "concurrent_users")
    assert users["value"] == PEAK and users["state"] == "met"
    # No series `http_requests_total` was loaded: unknown, not 0.
    requests = next(c for c in enterprise["criteria"] if c["metric"] == "daily_requests")
    assert requests["value"] is None and requests["state"] == "unknown"


def test_public_url_drops_credentials() -> None:
    assert public_url("https://u:p@prom.example:9090/base") == "https://prom.example:9090/base"


def _config_timeout(seconds: float) -> None:
    import os

    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "config.yaml").open("a") as handle:
        handle.write(f"prometheus_timeout: {seconds}\n")


def _unknown_users(repo: Path, url: str) -> dict[str, object]:
    (repo / ".rulesync.yaml").write_text(f"phase: basic\nprometheus: {url}\n")
    doc = json.loads(rulesync(repo, "readiness", "--json", check=0).stdout)
    return next(c for c in doc["tiers"][-1]["criteria"] if c["metric"] == "concurrent_users")


def test_an_unreachable_prometheus_is_unknown_never_0(repo: Path) -> None:
    _config_timeout(1)
    users = _unknown_users(repo, f"http://127.0.0.1:{free_port()}")
    assert users["value"] is None and users["state"] == "unknown"
    assert "unreachable" in str(users["note"])


def test_a_prometheus_that_never_answers_is_unknown_within_the_timeout(repo: Path) -> None:
    _config_timeout(1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (the kernel does) and never answers
        port = silent.getsockname()[1]
        users = _unknown_users(repo, f"http://reader:s3cret@127.0.0.1:{port}")
    assert users["value"] is None and users["state"] == "unknown"
    assert "did not answer within 1 s" in str(users["note"])
    assert "s3cret" not in json.dumps(users)


def test_phase_auto_settles_on_prometheus_history(
    prometheus_server: Loaded, tmp_path: Path
) -> None:
    """The window comes from Prometheus itself: a figure above the threshold only since
    yesterday does not promote with a settling time of two days; one above it for three days
    does."""
    from support.repos import make_repo

    def project(name: str, query_text: str) -> Path:
        root = make_repo(tmp_path / name)
        lib = root / "rules"
        for tier in ("basic", "advanced"):
            (lib / tier).mkdir(parents=True)
            (lib / tier / f"{tier}.mdc").write_text(f"---\ndescription: {tier}\n---\n{tier}\n")
        (lib / "tiers.yaml").write_text(
            "tiers:\n  - name: basic\n  - name: advanced\n    extends: basic\n"
            "    criteria:\n      - {metric: concurrent_users, op: '>=', value: 100}\n"
            "    promote_when: {settle_days: 2}\n"
            f"metrics:\n  concurrent_users: {{prometheus: '{query_text}'}}\n"
        )
        (root / ".rulesync.yaml").write_text(
            f"phase: auto\nlibrary: rules\nprometheus: {prometheus_server.url}\n"
        )
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", "project")
        return root

    # max over the last day is 137 only for the day holding the peak: met now? No — the peak
    # is a day and a half back, so the last day's max is 90; the 2-day max is 137 now and a
    # day ago, but not two days ago.
    recent = project("recent", "max_over_time(active_users[2d])")
    doc = json.loads(rulesync(recent, "readiness", "--json", check=0).stdout)
    advanced = doc["tiers"][0]
    assert advanced["met"] is True and advanced["settled"] is False
    rulesync(recent, "apply", check=0)
    assert git(recent, "log", "-1", "--format=%s").startswith("rulesync: install basic")
    steady = project("steady", "100 * count(max_over_time(active_users[1h]))")
    rulesync(steady, "apply", check=0)
    body = git(steady, "log", "-1", "--format=%B")
    assert body.startswith("rulesync: install advanced")
    assert (
        "concurrent_users = 100 (prometheus: 100 * count(max_over_time(active_users[1h]))" in body
    )


def test_a_prometheus_error_with_escape_characters_is_shown_escaped(repo: Path) -> None:
    """A server's error text reaches the terminal only with its control characters escaped."""
    import http.server

    class Hostile(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "error", "error": "bad\x1b[2J\x1b]0;owned\x07"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        (repo / ".rulesync.yaml").write_text(f"phase: basic\nprometheus: {url}\n")
        proc = rulesync(repo, "readiness", check=0)
    finally:
        server.shutdown()
        server.server_close()
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "concurrent_users = unknown" in proc.stdout and "HTTP 400: bad\\x1b[2J" in proc.stdout
