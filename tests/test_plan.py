"""The pure plan: desired files and blocks against manifest and disk (SPEC §3 items 1–3)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from rulesync.manifest import VERSION, Manifest, dumps
from rulesync.plan import (
    BROKEN_BLOCK,
    NO_BLOCK,
    NOT_A_FILE,
    SYMLINK,
    Desired,
    Kind,
    Plan,
    make_plan,
)


def kinds(plan: Plan) -> dict[str, Kind]:
    return {a.path: a.kind for a in plan.actions}


def plan(
    desired: dict[str, str],
    manifest: Manifest,
    disk: dict[str, str],
    force: bool = False,
    blocks: dict[str, str] | None = None,
) -> Plan:
    return make_plan(
        Desired(files=desired, blocks=blocks or {}),
        manifest,
        disk,
        library="lib",
        tier="basic",
        targets=(),
        force=force,
    )


def test_fresh_project_adds_everything() -> None:
    p = plan({"a.mdc": "1", "b.mdc": "2"}, Manifest(), {})
    assert kinds(p) == {"a.mdc": Kind.ADD, "b.mdc": Kind.ADD}
    assert p.manifest.files == {"a.mdc": "1", "b.mdc": "2"}
    assert not p.in_sync


def test_in_sync_is_a_no_op() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"})
    p = plan({"a.mdc": "1"}, m, {"a.mdc": "1"})
    assert p.in_sync and not p.changes


def test_owned_file_is_updated_and_removed_rule_deleted() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1", "old.mdc": "9"})
    p = plan({"a.mdc": "2"}, m, {"a.mdc": "1", "old.mdc": "9"})
    assert kinds(p) == {"a.mdc": Kind.UPDATE, "old.mdc": Kind.DELETE}
    assert p.manifest.files == {"a.mdc": "2"}


def test_user_edit_is_a_conflict_kept_in_the_manifest_until_forced() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"})
    p = plan({"a.mdc": "2"}, m, {"a.mdc": "edited"})
    assert kinds(p) == {"a.mdc": Kind.CONFLICT}
    assert p.manifest.files == {"a.mdc": "1"}
    forced = plan({"a.mdc": "2"}, m, {"a.mdc": "edited"}, force=True)
    (action,) = forced.actions
    assert action.kind is Kind.UPDATE and action.backup


def test_unmanaged_file_with_a_rules_name_is_a_conflict_unless_identical() -> None:
    p = plan({"a.mdc": "1"}, Manifest(), {"a.mdc": "mine"})
    assert p.actions[0].kind is Kind.CONFLICT
    assert "unmanaged" in p.actions[0].reason
    adopted = plan({"a.mdc": "1"}, Manifest(), {"a.mdc": "1"})
    assert adopted.actions[0].kind is Kind.ADOPT
    assert adopted.manifest.files == {"a.mdc": "1"}


def test_deleted_managed_file_comes_back() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"})
    assert kinds(plan({"a.mdc": "1"}, m, {})) == {"a.mdc": Kind.ADD}


def test_edited_managed_file_leaving_the_tier_is_handed_to_the_user_not_deleted() -> None:
    m = Manifest("lib", "basic", {"gone.mdc": "1"})
    p = plan({}, m, {"gone.mdc": "edited"})
    assert kinds(p) == {"gone.mdc": Kind.RELEASE}
    assert "now yours" in p.actions[0].reason and p.manifest.files == {}
    assert not p.changes and p.manifest_changed


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


def test_paths_are_project_relative_across_targets() -> None:
    p = plan({".cursor/rules/a.mdc": "1", ".claude/rules/a.md": "2"}, Manifest(), {})
    assert kinds(p) == {".cursor/rules/a.mdc": Kind.ADD, ".claude/rules/a.md": Kind.ADD}


def test_a_block_is_appended_to_the_users_file_and_recorded_as_a_block() -> None:
    p = plan({}, Manifest(), {"AGENTS.md": NO_BLOCK}, blocks={"AGENTS.md": "b"})
    (action,) = p.actions
    assert action.kind is Kind.ADD and action.block
    assert p.manifest.blocks == {"AGENTS.md": "b"} and p.manifest.files == {}


def test_an_edited_block_is_a_conflict_until_forced() -> None:
    m = Manifest("lib", "basic", blocks={"AGENTS.md": "1"})
    p = plan({}, m, {"AGENTS.md": "edited"}, blocks={"AGENTS.md": "2"})
    assert kinds(p) == {"AGENTS.md": Kind.CONFLICT}
    assert "was edited" in p.actions[0].reason
    assert p.manifest.blocks == {"AGENTS.md": "1"}
    forced = plan({}, m, {"AGENTS.md": "edited"}, force=True, blocks={"AGENTS.md": "2"})
    assert forced.actions[0].kind is Kind.UPDATE and forced.actions[0].backup


def test_a_removed_block_comes_back_and_a_block_leaving_is_deleted() -> None:
    m = Manifest("lib", "basic", blocks={"AGENTS.md": "1"})
    back = plan({}, m, {"AGENTS.md": NO_BLOCK}, blocks={"AGENTS.md": "1"})
    assert kinds(back) == {"AGENTS.md": Kind.ADD}
    leaving = plan({}, m, {"AGENTS.md": "1"})
    assert kinds(leaving) == {"AGENTS.md": Kind.DELETE} and leaving.actions[0].block
    assert leaving.manifest.blocks == {}


def test_broken_block_markers_are_a_conflict_even_forced() -> None:
    m = Manifest("lib", "basic", blocks={"AGENTS.md": "1"})
    forced = plan({}, m, {"AGENTS.md": BROKEN_BLOCK}, force=True, blocks={"AGENTS.md": "2"})
    assert kinds(forced) == {"AGENTS.md": Kind.CONFLICT}
    assert "marker lines" in forced.actions[0].reason


def test_a_legacy_manifest_always_changes_so_it_is_moved() -> None:
    m = Manifest("lib", "basic", {".cursor/rules/a.mdc": "1"}, legacy=True)
    p = plan({".cursor/rules/a.mdc": "1"}, m, {".cursor/rules/a.mdc": "1"})
    assert not p.changes and p.manifest_changed and not p.manifest.legacy


def test_changing_the_targets_alone_changes_the_manifest() -> None:
    m = Manifest("lib", "basic", {"a.mdc": "1"}, targets=("cursor", "agents"))
    assert plan({"a.mdc": "1"}, m, {"a.mdc": "1"}).manifest_changed


_TEXT = st.text(max_size=12)
_HASHES = st.dictionaries(_TEXT, _TEXT, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    _TEXT,
    _TEXT,
    _HASHES,
    _HASHES,
    _HASHES,
    st.none() | st.text(min_size=1, max_size=3),
    st.lists(_TEXT, max_size=3).map(tuple),
)
def test_a_manifest_is_written_byte_for_byte_as_json_with_a_two_space_indent(
    library: str,
    tier: str,
    files: dict[str, str],
    blocks: dict[str, str],
    pending: dict[str, str],
    revision: str | None,
    targets: tuple[str, ...],
) -> None:
    manifest = Manifest(library, tier, files, blocks, pending, revision, targets)
    doc: dict[str, object] = {"version": VERSION, "library": library, "tier": tier}
    if revision:
        doc["revision"] = revision
    doc["targets"] = list(targets)
    doc["files"] = dict(sorted(files.items()))
    doc["blocks"] = dict(sorted(blocks.items()))
    if pending:
        doc["pending"] = dict(sorted(pending.items()))
    expected = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert dumps(manifest) == expected.encode("utf-8", "surrogatepass")
