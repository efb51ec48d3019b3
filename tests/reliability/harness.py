"""What the reliability scenarios share: a tiered library, the user's own work, snapshots, the
git-history audit, process-group draining and the trial log that feeds docs/reliability.md.

Everything here is real: real git, real files, real `rulesync` subprocesses. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rulesync.errors import RulesyncError
from rulesync.fsutil import TMP_MARK
from rulesync.manifest import MANIFEST
from rulesync.manifest import parse as parse_manifest
from rulesync.marker import parse_marker
from rulesync.names import valid_rule_name
from support.env import stop_process
from support.repos import RULESYNC, git

RULES = Path(".cursor/rules")
RULES_REL = RULES.as_posix()
MANIFEST_REL = MANIFEST
MARKER = ".rulesync.yaml"
TIERS = ("basic", "advanced", "enterprise")
FIGURES_ENV = "RULESYNC_RELIABILITY_FIGURES"
SEEDS_ENV = "RULESYNC_RELIABILITY_SEEDS"


# --- a library with real churn between tiers ----------------------------------------------


@dataclass(frozen=True)
class TieredLibrary:
    """A library folder and, for each rule name, every version some tier provides."""

    root: Path
    versions: dict[str, frozenset[bytes]]
    tiers: tuple[str, ...] = TIERS

    def is_whole(self, name: str, data: bytes) -> bool:
        """True when `data` is exactly one of the library's versions of `name`."""
        return data in self.versions.get(name, frozenset())


def _rule(name: str, tier: str, size: int) -> bytes:
    head = f"---\ndescription: {name} for the {tier} tier\nglobs: src/**/*.py\nalwaysApply: false\n"
    line = f"- {tier}: keep {name} consistent across services.\n"
    return (head + "---\n" + line * max(1, size // len(line))).encode("utf-8")


def make_tiered_library(path: Path, *, sizes: tuple[int, int, int] = (20, 14, 10)) -> TieredLibrary:
    """Three tiers with overrides: basic (20 rules), advanced (+7 new, 7 replaced), enterprise
    (+5 new, 5 replaced); 32 rules at the top. Moving between any two tiers adds, updates and
    deletes files, so a kill can land in every kind of step."""
    basic_n, advanced_n, enterprise_n = sizes
    own: dict[str, list[str]] = {
        "basic": [f"b{i:02d}.mdc" for i in range(basic_n)],
        "advanced": [f"b{i:02d}.mdc" for i in range(advanced_n // 2)]
        + [f"a{i:02d}.mdc" for i in range(advanced_n - advanced_n // 2)],
        "enterprise": [f"b{i:02d}.mdc" for i in range(basic_n - enterprise_n // 2, basic_n)]
        + [f"e{i:02d}.mdc" for i in range(enterprise_n - enterprise_n // 2)],
    }
    versions: dict[str, set[bytes]] = {}
    for index, (tier, names) in enumerate(own.items()):
        folder = path / tier
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "README.md").write_text(f"# {tier}\n")
        for number, name in enumerate(names):
            data = _rule(name, tier, 600 + 300 * ((number + index) % 7))
            (folder / name).write_bytes(data)
            versions.setdefault(name, set()).add(data)
    (path / "tiers.yaml").write_text(
        "version: 1\ntiers:\n"
        "  - name: basic\n    description: one developer\n"
        "  - name: advanced\n    extends: basic\n    description: a small team\n"
        "  - name: enterprise\n    extends: advanced\n    description: many customers\n"
    )
    return TieredLibrary(path, {n: frozenset(v) for n, v in versions.items()})


def library_versions(root: Path) -> dict[str, frozenset[bytes]]:
    """Every version of every rule name in a library folder (any tier)."""
    found: dict[str, set[bytes]] = {}
    for tier in sorted(p for p in root.iterdir() if p.is_dir()):
        for rule in tier.glob("*.mdc"):
            found.setdefault(rule.name, set()).add(rule.read_bytes())
    return {n: frozenset(v) for n, v in found.items()}


def write_user_config(lib: Path, **settings: object) -> Path:
    """The isolated user's config.yaml: `lib` as the default library, plus `settings`."""
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "rulesync" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"library: {lib}"] + [f"{key}: {value}" for key, value in settings.items()]
    config.write_text("\n".join(lines) + "\n")
    return config


# --- the user's own work, which must survive everything -------------------------------------

USER_RULE = b"---\ndescription: the team's own rule\nalwaysApply: true\n---\nnever lose me\n"


@dataclass
class UserWork:
    """A user's files in every state git knows: an own rule in `.cursor/rules` (untracked),
    a staged new file, an unstaged edit of a tracked file and an untracked file."""

    repo: Path
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def create(cls, repo: Path) -> UserWork:
        work = cls(repo)
        work.files = {
            f"{RULES_REL}/mine.mdc": USER_RULE,
            "notes/staged.txt": b"staged by the user, not for rulesync's commits\n",
            "README.md": b"# project\nan unstaged edit\n",
            "scratch.txt": b"untracked scratch\n",
        }
        for rel, data in work.files.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_bytes(data)
        git(repo, "add", "notes/staged.txt")
        return work

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self.files)

    def problems(self) -> list[str]:
        """Every way the user's work differs from what they left."""
        found = []
        for rel, data in self.files.items():
            path = self.repo / rel
            if os.path.islink(path) or not path.is_file():
                found.append(f"user file {rel} is gone")
            elif path.read_bytes() != data:
                found.append(f"user file {rel} was modified")
        status = git(self.repo, "status", "--porcelain", "--", "notes/staged.txt", "README.md")
        if "A  notes/staged.txt" not in status:
            found.append(f"notes/staged.txt is no longer staged: {status!r}")
        if " M README.md" not in status:
            found.append(f"README.md's unstaged edit changed state: {status!r}")
        return found


# --- snapshots and leftovers ---------------------------------------------------------------


def leftover_temporaries(folder: Path) -> list[str]:
    """Temporary files a killed run left anywhere under `folder` (the git dir included)."""
    return sorted(
        str(Path(dirpath, name).relative_to(folder))
        for dirpath, _, filenames in os.walk(folder)
        for name in filenames
        if TMP_MARK in name
    )


def rule_files(repo: Path) -> dict[str, bytes]:
    """The `.mdc` files in `.cursor/rules`, by name (regular files only)."""
    folder = repo / RULES
    if not folder.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.name.endswith(".mdc") and p.is_file() and not p.is_symlink()
    }


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def kill_stage(repo: Path, head_before: str, rules_before: dict[str, bytes]) -> str:
    """Where in a sync a kill landed, read from what it left behind."""
    from rulesync.manifest import load as load_manifest

    if head(repo) != head_before:
        return "after the commit"
    if load_manifest(repo).pending:
        return "while writing rules"
    if rule_files(repo) == rules_before:
        return "before any write"
    return "after the rules, before the commit"


# --- the git-history audit -----------------------------------------------------------------


def _cat_file_batch(repo: Path, specs: list[str]) -> list[bytes | None]:
    """`git cat-file --batch` for many `<rev>:<path>` specs at once; None where missing or
    not a blob."""
    if not specs:
        return []
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input=("\n".join(specs) + "\n").encode("utf-8"),
        capture_output=True,
        check=True,
    )
    out, pos, results = proc.stdout, 0, []
    for _ in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[-1] in (b"missing", b"ambiguous"):
            results.append(None)
            continue
        size = int(header[2])
        results.append(out[pos : pos + size] if header[1] == b"blob" else None)
        pos += size + 1
    return results


@dataclass
class HistoryAudit:
    """Checks every commit of a repository once: each committed manifest parses, has no
    `pending` key and matches the files of its commit; each rulesync commit changes something
    and touches only the marker, the manifest and rules its manifests name — never a user's file.
    """

    repo: Path
    user_paths: frozenset[str] = frozenset()
    author: str = "rulesync"
    seen: set[str] = field(default_factory=set)
    manifests: dict[str, dict[str, str] | None] = field(default_factory=dict)
    tiers: dict[str, str] = field(default_factory=dict)
    # False: a rulesync commit whose marker disagrees with its rules is counted in
    # `marker_mismatches` instead of being a problem (the storm measures how often).
    strict_markers: bool = True
    marker_mismatches: list[str] = field(default_factory=list)
    commits: int = 0
    rulesync_commits: int = 0

    def problems(self) -> list[str]:
        """Problems in commits not audited before (every branch, tag and HEAD)."""
        revs = git(self.repo, "rev-list", "HEAD", "--branches", "--tags", check=False).split()
        new = [sha for sha in revs if sha not in self.seen]
        if not new:
            return []
        log = git(
            self.repo,
            "-c",
            "log.showRoot=true",
            "log",
            "--no-walk=unsorted",
            "--no-renames",
            "--format=%x1e%H%x1f%an%x1f%P",
            "--name-only",
            *new,
        )
        found: list[str] = []
        records = []
        rulesync_shas: list[str] = []
        for chunk in log.split("\x1e")[1:]:
            first, _, rest = chunk.partition("\n")
            sha, author, parents = first.split("\x1f")
            paths = [line for line in rest.splitlines() if line]
            records.append((sha, author, parents.split(), paths))
        needed = {sha for sha, *_ in records} | {p for _, _, ps, _ in records for p in ps}
        found += self._load_manifests(sorted(needed - set(self.manifests)))
        for sha, author, parents, paths in records:
            self.commits += 1
            if author != self.author:
                continue
            self.rulesync_commits += 1
            short = sha[:10]
            if len(parents) > 1:
                found.append(f"rulesync commit {short} is a merge")
            if not paths:
                found.append(f"rulesync commit {short} changes nothing (a duplicate commit)")
            mine = set(self.manifests.get(sha) or {})
            before = set(self.manifests.get(parents[0]) or {}) if parents else set()
            for path in paths:
                if path in self.user_paths:
                    found.append(f"rulesync commit {short} holds the user's file {path}")
                elif path in (MARKER, MANIFEST_REL):
                    continue
                elif not path.startswith(RULES_REL + "/"):
                    found.append(f"rulesync commit {short} touches {path}, outside its files")
                else:
                    name = path[len(RULES_REL) + 1 :]
                    if not valid_rule_name(name) or path not in mine | before:
                        found.append(f"rulesync commit {short} holds {path}, not a managed rule")
            if self.manifests.get(sha) is None:
                found.append(f"rulesync commit {short} has no valid manifest")
            rulesync_shas.append(sha)
        found += self._markers_agree(rulesync_shas)
        self.seen.update(sha for sha, *_ in records)
        return found

    def _markers_agree(self, shas: list[str]) -> list[str]:
        """Each rulesync commit holds the marker its rules were planned from."""
        found = []
        for sha, blob in zip(
            shas, _cat_file_batch(self.repo, [f"{s}:{MARKER}" for s in shas]), strict=True
        ):
            if blob is None:
                found.append(f"rulesync commit {sha[:10]} has no marker")
                continue
            try:
                phase = parse_marker(blob, self.repo).phase
            except RulesyncError as exc:
                found.append(f"rulesync commit {sha[:10]} holds a marker that does not load: {exc}")
                continue
            tier = self.tiers.get(sha)
            if phase != "auto" and tier is not None and phase != tier:
                mismatch = (
                    f"rulesync commit {sha[:10]} holds the marker `phase: {phase}` "
                    f"with the rules of tier {tier}"
                )
                (found if self.strict_markers else self.marker_mismatches).append(mismatch)
        return found

    def _load_manifests(self, shas: list[str]) -> list[str]:
        found: list[str] = []
        blobs = _cat_file_batch(self.repo, [f"{sha}:{MANIFEST_REL}" for sha in shas])
        checks: list[tuple[str, str, str]] = []
        for sha, blob in zip(shas, blobs, strict=True):
            if blob is None:
                self.manifests[sha] = None
                continue
            try:
                manifest = parse_manifest(blob, Path(f"{sha[:10]}:{MANIFEST_REL}"))
            except RulesyncError as exc:
                found.append(f"commit {sha[:10]} holds a manifest that does not parse: {exc}")
                self.manifests[sha] = None
                continue
            if manifest.pending or b'"pending"' in blob:
                found.append(f"commit {sha[:10]} holds a half-written manifest (pending)")
            self.manifests[sha] = dict(manifest.managed)
            self.tiers[sha] = manifest.tier
            checks += [(sha, path, digest) for path, digest in manifest.files.items()]
        files = _cat_file_batch(self.repo, [f"{sha}:{path}" for sha, path, _ in checks])
        for (sha, name, digest), data in zip(checks, files, strict=True):
            if data is None:
                found.append(f"commit {sha[:10]}: manifest lists {name}, absent from the commit")
            elif hashlib.sha256(data).hexdigest() != digest:
                found.append(f"commit {sha[:10]}: {name} differs from its manifest's sha256")
        return found


# --- processes -----------------------------------------------------------------------------


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry))
    return members


def drain_group(pgid: int, *, timeout: float = 20.0) -> None:
    """Wait until every process of a group has ended (a killed rulesync's git child finishes
    on its own); SIGKILL what is left after `timeout`."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            for pid in group_members(pgid):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.005)


def start_rulesync(
    cwd: Path, *args: str, env: dict[str, str] | None = None, output: bool = True
) -> subprocess.Popen[str]:
    """The real `rulesync` in its own process group (so its git children can be found).
    With output=False its output is discarded (nothing can block on a full pipe)."""
    sink = subprocess.PIPE if output else subprocess.DEVNULL
    return subprocess.Popen(
        [*RULESYNC, *args],
        cwd=cwd,
        stdout=sink,
        stderr=sink,
        text=True,
        start_new_session=True,
        env=env,
    )


def error_line_problems(stderr: str, *names: str) -> list[str]:
    """A user-facing error is one line, no traceback, naming each of `names`."""
    found = []
    if "Traceback" in stderr:
        found.append(f"a traceback reached the user: {stderr[-400:]!r}")
    if "PosixPath(" in stderr or "WindowsPath(" in stderr:
        found.append(f"a Python repr reached the user: {stderr[-400:]!r}")
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) != 1:
        found.append(f"the error is {len(lines)} lines, not one: {stderr[-400:]!r}")
    found += [f"the error does not name {n}: {stderr!r}" for n in names if n not in stderr]
    return found


# --- trials and figures --------------------------------------------------------------------


def chosen_seeds(default: Iterable[int]) -> list[int]:
    """The seeds to run: RULESYNC_RELIABILITY_SEEDS=1012,3004 replays those trials alone
    (each scenario runs the ones in its own range)."""
    seeds = list(default)
    wanted = os.environ.get(SEEDS_ENV, "").strip()
    if wanted:
        return [s for s in (int(w) for w in wanted.replace(",", " ").split()) if s in seeds]
    return seeds


@dataclass
class TrialLog:
    """Runs seeded trials, keeps going after a failure (up to `max_failures`), and reports
    the figures: the failures name their seed, so one can be replayed alone."""

    section: str
    scenario: str
    trials: int = 0
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    max_failures: int = 5

    def run(self, seed: int, trial: Callable[[], list[str]]) -> bool:
        """Run one trial; it returns the invariants it found broken."""
        if len(self.failures) >= self.max_failures:
            return False
        self.trials += 1
        problems = trial()
        if problems:
            self.failures.append(f"seed {seed}: " + "; ".join(problems))
        return not problems

    def count(self, key: str, by: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + by


# --- the service ---------------------------------------------------------------------------


def quiet_status(repo: Path, *paths: str) -> list[str]:
    """`git status --porcelain` without the optional index lock (which would make a running
    service defer, or fail its `git add`)."""
    out = git(repo, "--no-optional-locks", "status", "--porcelain", "--", *paths)
    return [line for line in out.splitlines() if line]


@dataclass
class TrialDaemon:
    """The real `rulesync daemon` for the crash and restart trials: killed and started again
    within one trial, in a session of its own, its output kept per start (the everyday
    harness is `support.daemon.Daemon`)."""

    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    outputs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        output = self.workdir / f"daemon-{self.starts}.log"
        self.outputs.append(output)
        with open(output, "wb") as sink:
            self.proc = subprocess.Popen(
                [*RULESYNC, "daemon"],
                env=os.environ.copy(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.outputs if p.exists())

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the start-up reconcile is done (every project synced once)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while "reconcile.done" not in self.outputs[-1].read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise AssertionError(f"the service exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the service did not finish its start-up:\n{self.output()}")
            time.sleep(0.01)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the service process alone; its git child, if any, finishes on its own."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        drain_group(self.proc.pid)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it is still there after 10 s; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        code = stop_process(self.proc)
        drain_group(self.proc.pid)
        return code


def converged(repo: Path, *, allowed: Iterable[str] = ()) -> bool:
    """The project is exactly its tier, everything rulesync wrote is committed, and no sync is
    half done (no uncommitted flag)."""
    from rulesync.config import load_config
    from rulesync.sync import UNCOMMITTED_FLAG, inspect

    try:
        _, plan = inspect(repo, load_config())
    except RulesyncError:
        return False
    if not plan.in_sync or (repo / ".git" / UNCOMMITTED_FLAG).exists():
        return False
    return set(quiet_status(repo, ".cursor", MARKER)) <= set(allowed)


def wait_converged(
    repos: Iterable[Path], *, timeout: float = 60.0, allowed: Iterable[str] = ()
) -> list[str]:
    """Poll until every project has converged; the ones that did not, by name."""
    pending = list(repos)
    allowed = tuple(allowed)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [r for r in pending if not converged(r, allowed=allowed)]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return [f"{r.name} did not converge within {timeout:.0f} s" for r in pending]
