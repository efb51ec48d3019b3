"""`rulesync status`: phase, tier, targets, managed files and blocks, drift, conflicts, last
commit, the service."""

from __future__ import annotations

import argparse
import os
from typing import Any

from rulesync.commands._common import config, project_root, service_note, watched_by_service
from rulesync.git import busy_reason, rulesync_log
from rulesync.report import conflict_advice, emit_json, plan_doc, plan_lines, summary
from rulesync.runtime import read_status, running_pid
from rulesync.sync import commit_owed, inspect


def run(args: argparse.Namespace) -> int:
    cfg = config()
    root = project_root()
    project, plan = inspect(root, cfg)
    last = None
    if project.git is not None:
        entries = rulesync_log(project.git.top, cfg.commit_author[1], limit=1)
        last = entries[0] if entries else None
    newest = None
    if project.library.revision:
        from rulesync.remote import newest_fetched, parse_spec

        newest = newest_fetched(parse_spec(project.library_spec))
    pid = running_pid()
    record = read_status().get(os.path.abspath(root), {}) if pid else {}
    busy = busy_reason(project.git) if project.git is not None and project.marker.commit else None
    deferred = busy or record.get("deferred")
    owed = commit_owed(project, plan)
    doc: dict[str, Any] = {
        "project": str(root),
        "phase": project.marker.phase,
        "tier": project.tier,
        "library": project.library.label,
        "library_revision": project.library.revision,
        "library_newest": newest,
        "targets": list(project.targets),
        "managed": sorted(plan.current.files),
        "blocks": sorted(plan.current.blocks),
        "drift": not plan.in_sync,
        "conflicts": [a.path for a in plan.conflicts],
        "deferred": deferred,
        "last_commit": (
            {"sha": last.sha, "date": last.date, "subject": last.subject} if last else None
        ),
        "commit_owed": owed,
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
        return 0
    tier = project.tier + (" (auto)" if project.marker.phase == "auto" else "")
    print(f"project:  {root}")
    print(f"phase:    {project.marker.phase} → tier {tier}")
    print(f"library:  {project.library.label}")
    if project.library.revision:
        recorded = plan.current.revision or "none yet"
        line = f"revision: serving {project.library.revision[:12]}, recorded {recorded[:12]}"
        if newest and newest != project.library.revision:
            line += f"; newer fetched: {newest[:12]} (`rulesync apply --update`)"
        print(line)
    print(f"targets:  {', '.join(project.targets)}")
    blocks = f" and a block in {', '.join(plan.current.blocks)}" if plan.current.blocks else ""
    print(f"managed:  {len(plan.current.files)} file(s){blocks}")
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
    if pid:
        when = record.get("last_sync") or "not yet"
        print(f"service:  running (pid {pid}), last synced this project: {when}")
        if record.get("error"):
            print(f"          its last sync failed: {record['error']}")
    else:
        print("service:  not running (`rulesync service install` or `rulesync daemon`)")
    return 0
