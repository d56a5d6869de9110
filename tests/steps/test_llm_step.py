"""The `llm` step kind through the engine, against a fake OpenAI-compatible server."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest

from tests.fakes.openai import FakeOpenAI, error_reply
from tests.steps.workflow_files import new_execution
from tether.config import LLMConfigSection, TetherConfig
from tether.engine.errors import WorkflowError
from tether.engine.execution import Execution
from tether.engine.kinds import StepKind
from tether.engine.loader import load_workflow
from tether.engine.state import RunState
from tether.steps.registry import builtin_kinds

KEY = "sk-step-SECRET-0123456789"
KEY_ENV = "TETHER_TEST_LLM_STEP_KEY"
QUICK = 'request_retries = { attempts = 3, initial = "10ms", max = "20ms" }'


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def configured(fake: FakeOpenAI) -> TetherConfig:
    return dataclasses.replace(
        TetherConfig(),
        llm=LLMConfigSection(base_url=fake.base_url, model="step-model", api_key_env=KEY_ENV),
    )


def llm_step(step_id: str, prompt: str = "Say hello", extra: str = "") -> str:
    return f"""
[[steps]]
id = "{step_id}"
kind = "llm"
prompt = "{prompt}"
{extra}
"""


@dataclasses.dataclass
class Ran:
    state: RunState
    elapsed: float
    run_dir: Path
    workspace: Path

    def text_of(self, step_id: str) -> str:
        return "".join(self.state.steps[step_id].partial)


async def run(workspace: Path, text: str, kinds: dict[str, StepKind], **params: str) -> Ran:
    execution = new_execution(workspace, "ask.toml", text, kinds, params)
    started = time.monotonic()
    state = await execution.run()
    return Ran(state, time.monotonic() - started, execution.run_dir, workspace)


async def test_a_normal_stream_is_the_output_and_the_partial_output(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.stream(["Hel", "lo\n", "wor", "ld"], usage={"total_tokens": 9})
    text = '[params]\nwho = "tether"\n' + llm_step(
        "ask", "Greet ${params.who}", 'system = "Be brief."\ntemperature = 0.1'
    )
    ran = await run(tmp_path, text, builtin_kinds(configured(fake)))

    step = ran.state.steps["ask"]
    assert step.status == "succeeded", step.error
    assert step.output == {
        "result": "Hello\nworld",
        "via": "llm",
        "model": "fake-model",
        "finish_reason": "stop",
        "usage": {"total_tokens": 9},
        "attempts": 1,
    }
    assert ran.text_of("ask") == "Hello\nworld"
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.json()
    assert body["model"] == "step-model"
    assert body["temperature"] == 0.1
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1]["role"] == "user"
    assert body["messages"][1]["content"].startswith("Greet tether")


async def test_configuration_is_read_from_the_workspace_when_the_registry_has_none(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / ".tether").mkdir()
    (tmp_path / ".tether" / "config.toml").write_text(
        f'[llm]\nbase_url = "{fake.base_url}"\nmodel = "from-file"\napi_key_env = "{KEY_ENV}"\n'
    )
    fake.stream(["fine"])
    ran = await run(tmp_path, llm_step("ask"), builtin_kinds())
    assert ran.state.steps["ask"].output["result"] == "fine"
    assert fake.requests[0].json()["model"] == "from-file"


async def test_a_stall_after_some_chunks_keeps_the_partial_text_and_ends_on_the_idle_timeout(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.stream(["first line\n", "second, unfinished"], stall_after=2)
    ran = await run(
        tmp_path, llm_step("ask", extra='idle_timeout = "300ms"'), builtin_kinds(configured(fake))
    )
    step = ran.state.steps["ask"]
    # The model's own limit, not an engine deadline: the engine records `failed`, and the
    # error says which limit ended it.
    assert step.status == "timed_out"
    assert step.reason == "idle"
    assert "timed out (no text within the idle timeout)" in (step.error or "")
    assert ran.text_of("ask") == "first line\nsecond, unfinished"
    assert 0.3 <= ran.elapsed < 3.0, ran.elapsed
    assert len(fake.requests) == 1  # never retried once text had been streamed


async def test_with_a_heartbeat_timeout_the_engine_times_out_a_silent_stream(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.stream(["streamed ", "then silence"], stall_after=2)
    extra = 'heartbeat_timeout = "400ms"\nidle_timeout = "30s"'
    ran = await run(tmp_path, llm_step("ask", extra=extra), builtin_kinds(configured(fake)))
    step = ran.state.steps["ask"]
    assert step.status == "timed_out"
    assert step.reason == "heartbeat"
    assert ran.text_of("ask") == "streamed then silence"
    assert ran.elapsed < 3.0, ran.elapsed


async def test_the_steps_own_deadline_keeps_the_streamed_text(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.trickle("tick ", 0.05)
    ran = await run(
        tmp_path, llm_step("ask", extra='timeout = "1s"'), builtin_kinds(configured(fake))
    )
    step = ran.state.steps["ask"]
    assert step.status == "timed_out"
    assert step.reason == "step"
    assert ran.text_of("ask").startswith("tick tick tick")
    assert ran.elapsed < 3.0, ran.elapsed


async def test_429_with_retry_after_is_waited_out_then_succeeds(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.status(429, headers={"retry-after": "1"})
    fake.stream(["after the wait"])
    ran = await run(tmp_path, llm_step("ask", extra=QUICK), builtin_kinds(configured(fake)))
    step = ran.state.steps["ask"]
    assert step.status == "succeeded", step.error
    assert step.output["result"] == "after the wait"
    assert step.output["attempts"] == 2
    assert len(fake.requests) == 2
    assert 1.0 <= ran.elapsed < 4.0, ran.elapsed


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.status(429, headers={"retry-after": "30"})
    extra = QUICK + '\ntimeout = "2s"'
    ran = await run(tmp_path, llm_step("ask", extra=extra), builtin_kinds(configured(fake)))
    step = ran.state.steps["ask"]
    assert step.status == "failed"
    assert "429" in (step.error or "")
    assert ran.elapsed < 1.0, ran.elapsed
    assert len(fake.requests) == 1


async def test_repeated_500s_open_the_breaker_and_the_next_step_is_refused_at_once(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.default = error_reply(500)
    extra = QUICK + "\ncontinue_on_error = true"
    text = "max_parallel = 1\n" + llm_step("first", extra=extra) + llm_step("second", extra=extra)
    ran = await run(tmp_path, text, builtin_kinds(configured(fake)))

    first, second = ran.state.steps["first"], ran.state.steps["second"]
    assert first.status == "failed"
    assert "HTTP 500" in (first.error or "")
    assert len(fake.requests) == 3  # the first step's attempts; the second sent nothing
    assert second.status == "failed"
    assert "circuit open" in (second.error or "")
    # "At once" is proved by the request count above; the bound only catches a wait on a
    # retry or timeout (seconds), generous enough for a loaded 2-core machine.
    assert (second.duration_ms or 0) < 1500, second.duration_ms


async def test_the_key_appears_in_no_file_of_the_run_directory_nor_in_logs(
    fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.stream(["the key is ", KEY[:6], KEY[6:], " indeed\n"])
    fake.status(401, {"error": {"message": f"invalid key {KEY}"}})
    fake.status(500, {"error": {"message": f"upstream saw {KEY}"}})
    fake.stream(["more ", KEY])
    extra = "request_retries = { attempts = 1 }\ncontinue_on_error = true"
    text = "max_parallel = 1\n" + "".join(
        llm_step(name, extra=extra) for name in ("echo", "refused", "broken", "tail")
    )
    ran = await run(tmp_path, text, builtin_kinds(configured(fake)))

    statuses = {name: record.status for name, record in ran.state.steps.items()}
    assert statuses == {
        "echo": "succeeded",
        "refused": "failed",
        "broken": "failed",
        "tail": "succeeded",
    }
    assert ran.state.steps["echo"].output["result"] == "the key is *** indeed\n"
    assert KEY_ENV in (ran.state.steps["refused"].error or "")
    files = [path for path in ran.run_dir.rglob("*") if path.is_file()]
    assert any(path.name == "events.jsonl" for path in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
        assert KEY[:12].encode() not in path.read_bytes(), path
    assert KEY not in caplog.text


async def test_no_model_and_no_fallback_fails_at_load_time(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(llm_step("ask"))
    with pytest.raises(WorkflowError, match="no model is configured") as caught:
        load_workflow(path, builtin_kinds(TetherConfig()))
    assert "steps[0] (ask).fallback" in str(caught.value)
    # Without the configuration the registry cannot know: the step fails when it runs.
    ran = await run(tmp_path / "ws", llm_step("ask"), builtin_kinds())
    assert "no model is configured" in (ran.state.steps["ask"].error or "")


async def test_no_model_with_fallback_agent_waits_for_the_agent_then_continues(
    tmp_path: Path,
) -> None:
    kinds = builtin_kinds(TetherConfig())
    text = (
        llm_step("ask", "Plan the change", 'fallback = "agent"\nsystem = "You plan."')
        + """
[[steps]]
id = "after"
kind = "command"
needs = ["ask"]
run = ["echo", "${steps.ask.output.result}"]
"""
    )
    ran = await run(tmp_path, text, kinds)
    assert ran.state.status == "waiting"
    request = ran.state.steps["ask"].waiting
    instruction = Path(request["instruction_file"]).read_text()
    assert "Plan the change" in instruction
    assert "You plan." in instruction
    assert "no model is configured" in instruction
    assert request["resume"] in instruction

    resumed = Execution.resume(tmp_path, ran.state.run_id, kinds, results={"ask": "1. do it"})
    state = await resumed.run()
    assert state.status == "succeeded"
    assert state.steps["ask"].output == {"result": "1. do it", "via": "agent"}
    assert state.steps["after"].output["text"].strip() == "1. do it"


def test_bad_llm_options_are_load_errors(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    kinds = builtin_kinds()
    cases = {
        'idle_timeout = "soon"': "idle_timeout",
        "temperature = 5": "temperature",
        "request_retries = { attempts = 0 }": "request_retries",
        'fallback = "human"': "fallback",
        "bogus = 1": "bogus",
    }
    for line, field in cases.items():
        path.write_text(llm_step("ask", extra=line))
        with pytest.raises(WorkflowError, match=field):
            load_workflow(path, kinds)
