"""A run waiting at an agent step: the editor is told, offered the instruction (opened
with window/showDocument when the user picks the action), and `tether.resume` with a
result completes the step and the run."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.lsp.harness import TestClient, capabilities, start_server, stop_server


async def test_waiting_run_offers_its_instruction_and_resumes_with_a_result(
    client: TestClient, workspace: Path
) -> None:
    waiting = await client.command("tether.run", {"workflow": "handoff"})
    run_id = waiting["run_id"]
    assert waiting["status"] == "waiting"
    assert waiting["resume_command"].startswith(f"tether resume {run_id}")
    instruction = workspace / ".tether" / "runs" / run_id / "agent" / "ask.md"
    assert "Name a colour" in instruction.read_text()

    (request,) = await client.until(lambda: client.message_requests)
    assert f"run {run_id} (handoff) is waiting at step ask: Name a colour" in request.message
    assert [action.title for action in request.actions or []] == ["Open instruction"]
    (shown,) = await client.until(lambda: client.shown_documents)
    assert shown.uri == instruction.as_uri() and shown.take_focus is True

    end = [v for v in client.progress_of(run_id) if isinstance(v, types.WorkDoneProgressEnd)]
    assert end and end[0].message.startswith("waiting")
    # The waiting status carries the instruction, for editors that offer it themselves.
    await client.until(lambda: client.ended(run_id))
    status = client.statuses_of(run_id)[-1]
    assert status["status"] == "waiting"
    assert status["instruction_file"] == str(instruction)

    resumed = await client.command("tether.resume", {"run_id": run_id, "result": "teal"})
    assert resumed["status"] == "succeeded"
    steps = {step["id"]: step for step in resumed["steps"]}
    assert steps["ask"]["output"] == {"result": "teal", "via": "agent"}
    assert steps["after"]["partial"] == ["agent said teal"]


async def test_dismissing_the_message_opens_nothing(client: TestClient) -> None:
    client.pick_action = False
    waiting = await client.command("tether.run", {"workflow": "handoff"})
    assert waiting["status"] == "waiting"
    await client.until(lambda: client.message_requests)
    # The next request is answered, so the dismissal has been handled by now.
    assert (await client.command("tether.runs", {}))[0]["status"] == "waiting"
    assert client.shown_documents == []


async def test_resume_with_a_result_file_relative_to_the_workspace(
    client: TestClient, workspace: Path
) -> None:
    waiting = await client.command("tether.run", {"workflow": "handoff"})
    (workspace / "answer.md").write_text("ochre")
    resumed = await client.command(
        "tether.resume", {"run_id": waiting["run_id"], "result_file": "answer.md"}
    )
    assert resumed["status"] == "succeeded"
    assert resumed["steps"][1]["partial"] == ["agent said ochre"]


async def test_without_show_document_the_message_names_the_instruction(
    workspace: Path, env: dict[str, str]
) -> None:
    caps = capabilities("neovim")
    assert caps.window is not None
    caps.window.show_document = None
    client = await start_server(workspace, env, caps, {"prewarm": {"onStart": False}})
    try:
        waiting = await client.command("tether.run", {"workflow": "handoff"})
        instruction = workspace / ".tether" / "runs" / waiting["run_id"] / "agent" / "ask.md"
        (message,) = await client.until(lambda: client.messages)
        assert message.type == types.MessageType.Info
        assert "is waiting at step ask: Name a colour" in message.message
        assert message.message.endswith(f"Instruction: {instruction}")
        assert client.message_requests == [] and client.shown_documents == []
    finally:
        await stop_server(client)
