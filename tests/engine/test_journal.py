"""The journal: one orjson event a line, torn tails, damaged lines, artifacts, durability."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from tether.engine.events import EventBus, EventType
from tether.engine.journal import (
    ARTIFACT_CAP,
    JOURNAL_NAME,
    Durability,
    JournalError,
    JournalWriter,
    read_events,
)
from tether.engine.runs import replay
from tether.engine.state import RunState, StepStatus


def write_run(path: Path, durability: Durability = Durability.STEP, *, big: int = 0) -> RunState:
    """A small run journaled through a real bus; returns the live state."""
    bus = EventBus("r1")
    state = RunState("r1")
    bus.subscribe(state.apply)
    writer = JournalWriter(path, durability)
    bus.subscribe(writer)
    bus.publish(
        EventType.RUN_STARTED, workflow="w", params={"p": 1}, step_hashes={"a": "h1", "b": "h2"}
    )
    bus.publish(EventType.STEP_STARTED, "a", attempt=1)
    bus.publish(EventType.STEP_OUTPUT, "a", item="line one")
    if big:
        bus.publish(EventType.STEP_OUTPUT, "a", item="x" * big)
    bus.publish(EventType.STEP_HEARTBEAT, "a", details={"cursor": 7})
    output = {"blob": "y" * big} if big else {"n": 1}
    bus.publish(
        EventType.STEP_FINISHED, "a", status="succeeded", output=output, duration_ms=5, attempts=1
    )
    bus.publish(EventType.STEP_STARTED, "b", attempt=1)
    writer.close()
    return state


def replace_line(path: Path, index: int, new: bytes) -> None:
    """Overwrite line `index` (from 0) of a journal, as damage or a forgery would."""
    lines = path.read_bytes().split(b"\n")
    lines[index] = new
    path.write_bytes(b"\n".join(lines))


def test_every_event_is_one_orjson_line_with_increasing_seq(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [orjson.loads(line) for line in lines[:-1]]
    assert [r["seq"] for r in records] == list(range(1, 7))
    assert all({"seq", "ts", "type", "run_id"} <= set(r) for r in records)
    assert records[0]["type"] == "run_started" and records[0]["params"] == {"p": 1}


def test_replay_rebuilds_the_live_state(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    live = write_run(path)
    replayed = replay(path, "r1")
    assert replayed.to_json(None) == live.to_json(None)
    assert replayed.steps["a"].last_heartbeat == {"cursor": 7}
    assert replayed.steps["b"].status is StepStatus.RUNNING
    assert replayed.last_seq == 6


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    with path.open("ab") as journal:
        journal.write(b'{"seq": 7, "ts": 1.0, "type": "step_fin')  # the crash
    assert [e.seq for e in read_events(path)] == list(range(1, 7))

    # The next owner appends on a fresh line: the torn bytes are gone, nothing is merged.
    bus = EventBus("r1", next_seq=7)
    writer = JournalWriter(path)
    bus.subscribe(writer)
    bus.publish(EventType.STEP_FINISHED, "b", status="succeeded", duration_ms=1)
    writer.close()
    events = list(read_events(path))
    assert [e.seq for e in events] == list(range(1, 8))
    assert events[-1].type is EventType.STEP_FINISHED
    assert b"step_fin\n" not in path.read_bytes()


def test_complete_json_without_newline_counts_as_torn(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    with path.open("ab") as journal:
        journal.write(b'{"seq":7,"ts":1.0,"type":"step_started","run_id":"r1","step":"c"}')
    assert len(list(read_events(path))) == 6


def test_garbage_middle_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    replace_line(path, 2, b"\x00garbage{")
    with pytest.raises(JournalError, match=rf"^{path}:3: damaged journal line"):
        list(read_events(path))


def test_a_line_that_is_json_but_not_an_event_is_damage(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    replace_line(path, 1, b'{"seq": 2, "type": "no_such_type", "ts": 1, "run_id": "r1"}')
    with pytest.raises(JournalError, match=r":2: damaged journal line"):
        list(read_events(path))


def test_sequence_going_backwards_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    replace_line(path, 4, path.read_bytes().split(b"\n")[2])
    with pytest.raises(JournalError, match=r":5: sequence number 3 after 4"):
        list(read_events(path))


def test_missing_journal_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal"):
        list(read_events(tmp_path / JOURNAL_NAME))


def test_large_payloads_go_to_artifacts_and_come_back_on_replay(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    big = 3 * ARTIFACT_CAP
    live = write_run(path, big=big)
    lines = path.read_bytes().split(b"\n")[:-1]
    assert max(len(line) for line in lines) < 2048, "the journal stays small"
    references = [orjson.loads(line) for line in lines if b'"$artifact"' in line]
    assert [r["type"] for r in references] == ["step_output", "step_finished"]
    assert references[1]["output"] == {"$artifact": f"artifacts/{references[1]['seq']}-output.json"}
    assert len(list((tmp_path / "artifacts").iterdir())) == 2

    replayed = replay(path, "r1")
    assert replayed.steps["a"].output == {"blob": "y" * big}
    assert replayed.steps["a"].partial == ["line one", "x" * big]
    assert replayed.to_json(None) == live.to_json(None)


def test_small_payloads_stay_inline(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path, big=ARTIFACT_CAP // 2)
    assert not (tmp_path / "artifacts").exists()


def test_artifact_reference_outside_the_run_dir_is_refused(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path)
    (tmp_path / "secret.json").write_text('"secret"')
    record = orjson.loads(path.read_bytes().split(b"\n")[4])
    record["output"] = {"$artifact": "../secret.json"}
    replace_line(path, 4, orjson.dumps(record))
    with pytest.raises(JournalError, match=r":5: invalid artifact reference"):
        replay(path, "r1")


def test_missing_artifact_is_a_journal_error(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    write_run(path, big=2 * ARTIFACT_CAP)
    for artifact in (tmp_path / "artifacts").iterdir():
        artifact.unlink()
    with pytest.raises(JournalError, match="cannot read artifact"):
        replay(path, "r1")


@pytest.mark.parametrize("durability", list(Durability))
def test_every_durability_setting_journals_everything(
    tmp_path: Path, durability: Durability
) -> None:
    path = tmp_path / JOURNAL_NAME
    live = write_run(path, durability)
    assert replay(path, "r1").to_json(None) == live.to_json(None)


def test_only_syncing_settings_start_a_sync_thread(tmp_path: Path) -> None:
    def sync_threads() -> int:
        return sum(t.name == "tether-journal-sync" for t in threading.enumerate())

    before = sync_threads()
    quiet = JournalWriter(tmp_path / "none.jsonl", Durability.NONE)
    assert sync_threads() == before
    syncing = JournalWriter(tmp_path / "step.jsonl", Durability.STEP)
    assert sync_threads() == before + 1
    syncing.close()
    quiet.close()
    assert sync_threads() == before, "close() waits for the last fsync and ends the thread"
