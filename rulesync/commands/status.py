"""`rulesync status`: phase, tier, targets, managed files and blocks, drift, conflicts, last
commit, the service."""

from __future__ import annotations

import argparse
import os
from typing import Any

from rulesync.commands._common import (
    config,
    is_registered,
    project_root,
    service_note,
    watched_by_service,
)
from rulesync.errors import EXIT_OK
from rulesync.git import busy_reason, project_history
from rulesync.report import (
    conflict_advice,
    emit_json,
    plan_doc,
    plan_lines,
    summary,
    yours_doc,
    yours_lines,
)
from rulesync.runtime import read_status, running_pid
from rulesync.sync import commit_owed, inspect


def run(args: argparse.Namespace) -> int:
    cfg = config()
    root = project_root()
    project, plan = inspect(root, cfg)
    last = None
    if project.git is not None:
        entries = project_history(root, project.git, cfg, limit=1)
        last = entries[0] if entries else None
    newest = None
    rewritten = False
    if project.library.revision:
        from rulesync.remote import Cache, is_fast_forward, newest_fetched
        from rulesync.spec import parse_spec

        spec = parse_spec(project.library_spec)
        newest = newest_fetched(spec)
        if newest and newest != project.library.revision:
            # `apply --update` refuses a tip that does not descend from the served one.
            rewritten = not is_fast_forward(Cache(spec), project.library.revision, newest)
    pid = running_pid()
    record = read_status().get(os.path.abspath(root), {}) if pid else {}
    busy = busy_reason(project.git) if project.git is not None and project.marker.commit else None
    deferred = busy or record.get("deferred")
    owed = commit_owed(project, plan)
    own = yours_doc(project)
    registered = is_registered(root)
    doc: dict[str, Any] = {
        "project": str(root),
        "phase": project.marker.phase,
        "tier": project.tier,
        "library": project.library.label,
        "library_revision": project.library.revision,
        "library_newest": newest,
        "library_rewritten": rewritten,
        "targets": list(project.targets),
        "managed": sorted(plan.current.files),
        "blocks": sorted(plan.current.blocks),
        "yours": own,
        "drift": not plan.in_sync,
        "conflicts": [a.path for a in plan.conflicts],
        "deferred": deferred,
        "last_commit": (
            {"sha": last.sha, "date": last.date, "subject": last.subject} if last else None
        ),
        "commit_owed": owed,
        "registered": registered,
        "service": {
            "running": pid is not None,
            "pid": pid,
            "last_sync": record.get("last_sync"),
            "error": record.get("error"),
        },
        "plan": plan_doc(plan),
    }
    if args.json:
        emit_json(doc)
        return EXIT_OK
    tier = project.tier + (" (auto)" if project.marker.phase == "auto" else "")
    print(f"project:  {root}")
    print(f"phase:    {project.marker.phase} → tier {tier}")
    print(f"library:  {project.library.label}")
    if project.library.revision:
        recorded = plan.current.revision or "none yet"
        line = f"revision: serving {project.library.revision[:12]}, recorded {recorded[:12]}"
        if rewritten and newest:
            line += (
                f"; fetched {newest[:12]}, which does not descend from it (the branch was "
                "force-pushed): `rulesync apply --update --accept-rewrite` accepts it"
            )
        elif newest and newest != project.library.revision:
            line += f"; newer fetched: {newest[:12]} (`rulesync apply --update`)"
        print(line)
    print(f"targets:  {', '.join(project.targets)}")
    blocks = f" and a block in {', '.join(plan.current.blocks)}" if plan.current.blocks else ""
    print(f"managed:  {len(plan.current.files)} file(s){blocks}")
    for line in yours_lines(own):
        print(line)
    if plan.in_sync:
        print("drift:    none")
    else:
        print(f"drift:    {summary(plan)}, {len(plan.conflicts)} conflict(s)")
        for line in plan_lines(plan):
            print(f"        {line}")
    if plan.conflicts:
        print(f"conflicts: {conflict_advice(plan)}")
    if deferred:
        print(f"deferred: {deferred}; {service_note(root)}")
    if last:
        print(f"last commit: {last.sha[:10]} {last.date} {last.subject}")
    elif project.git is None:
        print("last commit: — (not a git repository)")
    else:
        print("last commit: — (none yet)")
    if owed:
        watched = watched_by_service(root)
        who = "the service commits them at its next sync" if watched else "`apply` commits them"
        print(f"commit:   owed: rulesync's changes are written but not committed; {who}")
    register = f"`rulesync projects add {root}` registers it"
    if pid and not registered:
        print(
            f"service:  running (pid {pid}), but this project is not registered, so the "
            f"service never syncs it: {register}"
        )
    elif pid:
        when = record.get("last_sync") or "not yet"
        print(f"service:  running (pid {pid}), last synced this project: {when}")
        if record.get("error"):
            print(f"          its last sync failed: {record['error']}")
    else:
        print(
            "service:  not running (`rulesync service install` or `rulesync daemon`)"
            + ("" if registered else f", and this project is not registered: {register}")
        )
    return EXIT_OK
