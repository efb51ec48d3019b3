"""The pure plan: desired rules against manifest and disk (SPEC §3 items 1–3)."""

from __future__ import annotations

from rulesync.manifest import Manifest
from rulesync.plan import NOT_A_FILE, SYMLINK, Kind, make_plan


def kinds(plan: object) -> dict[str, Kind]:
    return {a.name: a.kind for a in plan.actions}  # type: ignore[attr-defined]


def plan(desired: dict[str, str], manifest: Manifest, disk: dict[str, str], force: bool = False):  # type: ignore[no-untyped-def]
    return make_plan(desired, manifest, disk, library="lib", tier="basic", force=force)


def test_fresh_project_adds_everything() -> None:
    p = plan({"a.mdc": "1", "b.mdc": "2"}, Manifest(), {})
    assert kinds(p) == {"a.mdc": Kind.ADD, "b.mdc": Kind.ADD}
    assert p.manifest.rules == {"a.mdc": "1", "b.mdc": "2"}
    assert not p.in_sync


def test_in_sync_is_a_no_op() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"})
    p = plan({"a.mdc": "1"}, m, {"a.mdc": "1"})
    assert p.in_sync and not p.changes


def test_owned_file_is_updated_and_removed_rule_deleted() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1", "old.mdc": "9"})
    p = plan({"a.mdc": "2"}, m, {"a.mdc": "1", "old.mdc": "9"})
    assert kinds(p) == {"a.mdc": Kind.UPDATE, "old.mdc": Kind.DELETE}
    assert p.manifest.rules == {"a.mdc": "2"}


def test_user_edit_is_a_conflict_kept_in_the_manifest_until_forced() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"})
    p = plan({"a.mdc": "2"}, m, {"a.mdc": "edited"})
    assert kinds(p) == {"a.mdc": Kind.CONFLICT}
    assert p.manifest.rules == {"a.mdc": "1"}
    forced = plan({"a.mdc": "2"}, m, {"a.mdc": "edited"}, force=True)
    (action,) = forced.actions
    assert action.kind is Kind.UPDATE and action.backup


def test_unmanaged_file_with_a_rules_name_is_a_conflict_unless_identical() -> None:
    p = plan({"a.mdc": "1"}, Manifest(), {"a.mdc": "mine"})
    assert p.actions[0].kind is Kind.CONFLICT
    assert "unmanaged" in p.actions[0].reason
    adopted = plan({"a.mdc": "1"}, Manifest(), {"a.mdc": "1"})
    assert adopted.actions[0].kind is Kind.UNCHANGED
    assert adopted.manifest.rules == {"a.mdc": "1"}


def test_deleted_managed_file_comes_back() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"})
    assert kinds(plan({"a.mdc": "1"}, m, {})) == {"a.mdc": Kind.ADD}


def test_edited_managed_file_leaving_the_tier_is_a_conflict_not_deleted() -> None:
    m = Manifest("lib", "basic", {"gone.mdc": "1"})
    p = plan({}, m, {"gone.mdc": "edited"})
    assert kinds(p) == {"gone.mdc": Kind.CONFLICT}
    assert "leaving" in p.actions[0].reason


def test_symlink_or_folder_in_place_of_a_rule_is_never_written_through() -> None:
    p = plan({"a.mdc": "1", "b.mdc": "2"}, Manifest(), {"a.mdc": SYMLINK, "b.mdc": NOT_A_FILE})
    assert kinds(p) == {"a.mdc": Kind.CONFLICT, "b.mdc": Kind.CONFLICT}
    forced = plan({"b.mdc": "2"}, Manifest(), {"b.mdc": NOT_A_FILE}, force=True)
    assert forced.actions[0].kind is Kind.CONFLICT


def test_pending_hashes_from_an_interrupted_run_count_as_owned() -> None:
    m = Manifest("lib", "advanced", {"a.mdc": "old"}, pending={"a.mdc": "new", "b.mdc": "nb"})
    p = plan({"a.mdc": "old"}, m, {"a.mdc": "new", "b.mdc": "nb"})
    assert kinds(p) == {"a.mdc": Kind.UPDATE, "b.mdc": Kind.DELETE}
    assert p.manifest.pending == {}


def test_tier_change_alone_changes_the_manifest() -> None:
    m = Manifest("lib", "advanced", {"a.mdc": "1"})
    p = plan({"a.mdc": "1"}, m, {"a.mdc": "1"})
    assert p.manifest_changed and not p.in_sync and not p.changes
