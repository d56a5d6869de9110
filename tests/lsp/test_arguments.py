"""Wrong arguments and unknown names are JSON-RPC errors with one clear line; the server
stays up and answers the next request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.harness import TestClient, as_dict

# One server per client kind for the module (see conftest.shared_client).
pytestmark = pytest.mark.asyncio(loop_scope="module")
INVALID_PARAMS = -32602


@pytest.fixture
def client(shared_client: TestClient) -> TestClient:
    return shared_client


CASES: list[tuple[str, list[Any], str]] = [
    ("tether.run", [], "tether.run: 'workflow' is required"),
    ("tether.run", [{"workflow": "multi"}, {}], "'workflow' must be a non-empty string"),
    ("tether.run", ["multi", {}, "5s", "x"], "'on_budget' must be 'wait' or 'pause', got 'x'"),
    ("tether.run", ["multi", {}, "5s", "wait", 1], "at most 4 positional argument(s) (workflow,"),
    ("tether.run", ["multi", "target=src"], "'params' must be an object"),
    ("tether.show", [["run"]], "'run_id' must be a non-empty string"),
    ("tether.runs", ["x"], "at most 0 positional argument(s) (none), got 1"),
    ("tether.run", [{"workflow": 3}], "'workflow' must be a non-empty string"),
    ("tether.run", [{"workflow": "multi", "color": "red"}], "unknown field 'color'"),
    ("tether.run", [{"workflow": "multi", "budget": "soon"}], "tether.run: 'budget'"),
    ("tether.run", [{"workflow": "multi", "budget": 0}], "'budget' must be greater than zero"),
    ("tether.run", [{"workflow": "multi", "params": [1]}], "'params' must be an object"),
    ("tether.run", [{"workflow": "multi", "params": {"x": "1"}}], "unknown parameter 'x'"),
    ("tether.run", [{"workflow": "nope"}], "unknown workflow 'nope' (available:"),
    ("tether.run", [{"workflow": "../etc"}], "is not a workflow name"),
    ("tether.start", [{"workflow": "nope"}], "unknown workflow 'nope'"),
    ("tether.show", [{"run_id": "../../etc"}], "invalid run id"),
    ("tether.show", [{"run_id": "no-such-run"}], "no run 'no-such-run'"),
    ("tether.cancel", [{}], "'run_id' is required"),
    ("tether.resume", [{"run_id": "no-such-run"}], "no run 'no-such-run'"),
    ("tether.resume", [{"run_id": "x", "result": "a", "result_file": "b"}], "not both"),
    ("tether.resume", [{"run_id": "x", "result_file": "a\x00b"}], "result_file"),
    ("tether.resume", [{"run_id": "x", "result_file": "."}], "result_file"),
    ("tether.show", [{"run_id": "a\x00b"}], "tether.show:"),
    ("tether.docs", [{"library": "a\x00b"}], "tether.docs:"),
    ("tether.run", [{"workflow": "a\x00b"}], "is not a workflow name"),
    ("tether.run", [{"workflow": "multi", "params": {"x": {"y": 1}}}], "must be a string"),
    ("tether.docs", [{"library": "../../etc/passwd"}], "tether.docs:"),
    ("tether.docs", [{"library": "click", "max_tokens": 0}], "'max_tokens' must be a whole"),
    ("tether.prewarm", [{"libraries": "httpx"}], "'libraries' must be a list of names"),
    ("tether.runs", [{"all": True}], "unknown field 'all' (expected: no fields)"),
    ("tether.docs", [{"library": "click", "query": 3}], "tether.docs: 'query' must be a string"),
    ("tether.resume", [{"run_id": "x", "force": "yes"}], "'force' must be true or false"),
    ("tether.resume", ["x", "soon"], "tether.resume: 'budget' must be a duration"),
    ("tether.nothing", [{}], "unknown command 'tether.nothing'"),
]


@pytest.mark.parametrize(("command", "arguments", "message"), CASES)
async def test_bad_arguments_are_invalid_params(
    client: TestClient, command: str, arguments: list[Any], message: str
) -> None:
    with pytest.raises(JsonRpcException) as raised:
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=arguments)
        )
    assert raised.value.code == INVALID_PARAMS
    assert message in raised.value.message
    assert "\n" not in raised.value.message
    assert "Traceback" not in raised.value.message


async def test_bad_tether_run_request_and_the_server_goes_on(client: TestClient) -> None:
    with pytest.raises(JsonRpcException) as raised:
        await client.protocol.send_request_async("tether/run", {"workflow": "nope"})
    assert raised.value.code == INVALID_PARAMS
    assert "unknown workflow 'nope'" in raised.value.message
    result = await client.command("tether.run", {"workflow": "multi"})
    assert result["status"] == "succeeded"


async def test_positional_arguments_as_typed_in_neovim(client: TestClient) -> None:
    """`:lua vim.lsp.buf.execute_command({command = "tether.run", arguments = {"multi"}})`
    runs the workflow, and the run id alone shows it: fields in their declared order."""
    ran = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tether.run", arguments=["multi", None, "60s"])
    )
    run = as_dict(ran)
    assert run["workflow"] == "multi" and run["status"] == "succeeded"
    shown = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tether.show", arguments=[run["run_id"]])
    )
    assert as_dict(shown)["run_id"] == run["run_id"]


async def test_bad_arguments_leave_no_traceback_on_stderr(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    """The editor's server log (stderr) stays quiet: a bad argument is an answer, not a
    fault. The `noisy` run's print marks how far the server's stderr has been read."""
    capfd.readouterr()
    with pytest.raises(JsonRpcException):
        await client.command("tether.run", {"workflow": "nope"})
    assert (await client.command("tether.run", {"workflow": "noisy"}))["status"] == "succeeded"
    stderr = ""
    for _ in range(100):
        stderr += capfd.readouterr().err
        if "noise from print" in stderr:
            break
        await asyncio.sleep(0.05)
    assert "noise from print" in stderr
    assert "Traceback" not in stderr and "Exception occurred" not in stderr, stderr


async def test_an_unexpected_failure_is_one_line_without_a_traceback() -> None:
    from pygls.exceptions import JsonRpcInternalError

    from tether.lsp.commands import _checked

    async def broken(*_arguments: Any) -> None:
        raise RuntimeError("first line\nsecond line")

    with pytest.raises(JsonRpcInternalError) as raised:
        await _checked("tether.show", broken)({})
    error = raised.value.to_response_error()
    assert error.message == "tether.show: internal error: RuntimeError: first line"
    assert error.data is None


async def test_each_command_reads_into_its_typed_class() -> None:
    """An object and positional arguments give the same typed value (fields in declared
    order; `null` counts as absent)."""
    from tether.lsp.arguments import RunArguments, read_arguments

    positional = read_arguments("tether.run", ["check", {"target": "src"}, "50s"], RunArguments)
    named = read_arguments(
        "tether.run",
        [{"workflow": "check", "params": {"target": "src"}, "budget": 50}],
        RunArguments,
    )
    assert positional == named
    assert positional.workflow == "check" and positional.params == {"target": "src"}
    assert positional.budget == 50.0
    assert read_arguments("tether.run", ["check", None], RunArguments).params == {}
