"""The service (`rulesync daemon`): watch every registered project, keep its rules synced.

Level-triggered, like a Kubernetes controller. A file event only says "look at this project
again": watchdog's threads put a typed message on a queue and do nothing else (`watch`). One
worker thread owns all state (`worker`): it debounces and backs off (`schedule`), calls
`rulesync.sync.sync` (which re-reads everything and returns what it read, which is what gets
watched), reloads the registry, and reconciles every project at start-up and on a timer. Git
libraries are fetched on a thread of their own (`fetcher`); a library chain too long to watch
folder by folder is checked on a timer (`checks`). The main thread only turns signals into
requests for the worker (`process`).
"""

from rulesync.daemon.events import (
    GIT_WATCH,
    LIBRARY_WATCH,
    MARKER_WATCH,
    REGISTRY_OWNER,
    REGISTRY_WATCH,
    RULES_WATCH,
    Changed,
    Fatal,
    Fetched,
    Message,
    Reload,
    Stop,
    WatchKind,
    backoff_delay,
    debounce_due,
    is_relevant,
    saves_marker,
)
from rulesync.daemon.mounts import filesystem_type, mount_table, needs_polling, parse_mountinfo
from rulesync.daemon.process import run_daemon, single_instance
from rulesync.daemon.schedule import ProjectState
from rulesync.daemon.watch import MAX_PROJECT_WATCHES, Watcher, WatchPlan, plan_watches
from rulesync.daemon.worker import Reconciler
from rulesync.errors import AlreadyRunning
from rulesync.runtime import ProjectStatus

__all__ = [
    "GIT_WATCH",
    "LIBRARY_WATCH",
    "MARKER_WATCH",
    "MAX_PROJECT_WATCHES",
    "REGISTRY_OWNER",
    "REGISTRY_WATCH",
    "RULES_WATCH",
    "AlreadyRunning",
    "Changed",
    "Fatal",
    "Fetched",
    "Message",
    "ProjectState",
    "ProjectStatus",
    "Reconciler",
    "Reload",
    "Stop",
    "WatchKind",
    "WatchPlan",
    "Watcher",
    "backoff_delay",
    "debounce_due",
    "filesystem_type",
    "is_relevant",
    "mount_table",
    "needs_polling",
    "parse_mountinfo",
    "plan_watches",
    "run_daemon",
    "saves_marker",
    "single_instance",
]
