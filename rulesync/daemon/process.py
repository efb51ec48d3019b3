"""The service's process: one instance at a time, signals, and the main thread, which only
turns signals into requests for the worker."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Iterator

from rulesync import private
from rulesync.config import load_config
from rulesync.daemon.worker import Reconciler
from rulesync.errors import AlreadyRunning, LockBusy
from rulesync.fsutil import sweep_temporaries
from rulesync.lock import exclusive
from rulesync.logs import configure, log_path
from rulesync.paths import state_dir
from rulesync.runtime import pid_path, read_pid, remove_pid, write_pid

# SIGTERM / SIGINT: the sync in progress gets this long, so the process is gone within 5 s.
STOP_GRACE = 4.0
LOCK_FILE = "daemon.lock"
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@contextlib.contextmanager
def single_instance() -> Iterator[None]:
    """Hold the service lock and the pid file, or raise AlreadyRunning naming the holder."""
    folder = private.folder(state_dir())
    held = contextlib.ExitStack()
    try:
        held.enter_context(exclusive(folder / LOCK_FILE, timeout=0, what="the service"))
    except LockBusy:
        pid = None
        for _ in range(20):  # the holder writes its pid just after it takes the lock
            pid = read_pid(pid_path())
            if pid is not None:
                break
            time.sleep(0.05)
        who = f"pid {pid}" if pid is not None else "pid unknown"
        raise AlreadyRunning(
            f"the service is already running ({who}); stop it before starting another"
        ) from None
    with held:
        # A status or pid file a killed service was writing: only the lock holder writes
        # here, so any temporary file left is stale.
        sweep_temporaries(folder)
        write_pid()
        try:
            yield
        finally:
            remove_pid()


def _watch_threads(service: Reconciler) -> None:
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        previous(args)
        name = args.thread.name if args.thread is not None else "?"
        service.report_fatal(f"thread {name} died: {args.exc_type.__name__}: {args.exc_value}")

    threading.excepthook = hook


def run_daemon(*, verbose: int = 0) -> int:
    """`rulesync daemon`: serve in the foreground until SIGTERM / SIGINT; SIGHUP reloads."""
    config = load_config()
    with single_instance():
        level = "debug" if verbose else None
        configure(level or config.log_level, log_file=log_path(), console=True)
        service = Reconciler(config, log_level=level)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in _SIGNALS}
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        def wake() -> None:
            with contextlib.suppress(OSError):
                os.write(wake_w, b"\0")

        service.on_exit = wake
        _watch_threads(service)
        worker = threading.Thread(target=service.run, name="rulesync-worker", daemon=True)
        worker.start()
        deadline: float | None = None
        try:
            while worker.is_alive():
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([wake_r], [], [], timeout)
                if not ready:
                    service.log.warning("daemon.stop_timeout", grace_seconds=STOP_GRACE)
                    break
                for number in os.read(wake_r, 64):
                    if number == 0:  # the worker has finished (a fatal error)
                        worker.join(STOP_GRACE)
                    elif number == signal.SIGHUP:
                        service.request_reload()
                    elif number in (signal.SIGTERM, signal.SIGINT):
                        service.request_stop(signal.Signals(number).name)
                        if deadline is None:
                            deadline = time.monotonic() + STOP_GRACE
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
        worker.join(0.5)
        return service.exit_code
