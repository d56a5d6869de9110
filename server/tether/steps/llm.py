"""The `llm` step kind: one streamed chat completion from an OpenAI-compatible endpoint.

The endpoint (base_url, model, the NAME of the key's environment variable) comes from the
`[llm]` configuration; a step may name another `model`. Streamed text is partial output as
it arrives, so it survives a timeout or a cancel. Every wait is inside the step's deadline;
the client retries 429/5xx/connection errors (honouring Retry-After, never past the
deadline) and a circuit breaker per endpoint is shared by every step this registry runs.
Every piece of text is a heartbeat: a silent stream ends on the step's `idle_timeout`
(failed, the error names the limit) or, sooner if set, the engine's `heartbeat_timeout`
(timed out). Step option `request_retries` ({attempts, initial, max}) tunes the retries
within one call; the step's own `retries` re-runs the whole step after a retryable failure.

With no model configured, a step with `fallback = "agent"` becomes an agent step (same
brief, same resume); without it, the workflow fails to load when the registry knows the
configuration (builtin_kinds(config)), else the step fails when it runs.

Output: `{"result": TEXT, "via": "llm", "model", "finish_reason", "usage", "attempts"}`
(or `{"result": TEXT, "via": "agent"}` after a fallback), so later steps read
`${steps.X.output.result}` either way.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether.engine.breaker import CircuitBreaker
from tether.engine.context import StepContext
from tether.engine.durations import parse_duration
from tether.engine.errors import StepFailed, StepTimedOut, StepWaiting, TransientError
from tether.engine.kinds import DEFAULT_CANCEL_GRACE
from tether.engine.spec import StepSpec
from tether.engine.threads import run_in_daemon_thread
from tether.steps.agent import agent_output, hand_to_agent
from tether.steps.briefing import BRIEF_FIELDS, Brief, brief_from_options, brief_problems
from tether.steps.briefing import material_sections as _sections
from tether.steps.conditions import WHEN_FIELD, skip_unless_wanted

if TYPE_CHECKING:
    from pathlib import Path

    from tether.config import LLMConfigSection, TetherConfig
    from tether.llm.config import LLMConfig

_TIMEOUTS = ("connect_timeout", "first_token_timeout", "idle_timeout", "total_timeout")
_FIELDS = {
    "prompt",
    "system",
    "fallback",
    "model",
    "request_retries",
    "temperature",
    "max_tokens",
    WHEN_FIELD,
    *_TIMEOUTS,
    *BRIEF_FIELDS,
}
CONTEXT_CHARS = 24_000
"""Characters of the context pack sent to the model."""
# Text is emitted as partial output per line, or once this much has gathered.
_EMIT_CHARS = 200
# When the step's own deadline cuts the call, let the engine's supervisor (which fires
# at the same moment) record the step as timed out rather than reporting it ourselves.
_DEADLINE_HANDOVER = 1.0
NO_MODEL = (
    "no model is configured (set [llm] base_url and model in .tether/config.toml); "
    'add fallback = "agent" to hand this step to the chat agent when there is none'
)
FALLBACK_NOTE = (
    "This step would ask a model, but no model is configured ([llm] in "
    ".tether/config.toml), so it is handed to you."
)


@dataclass
class EndpointBreakers:
    """One circuit breaker per endpoint, shared by every llm step run by one registry."""

    failure_threshold: int = 3
    reset_after: float = 30.0
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def for_endpoint(self, endpoint: str) -> CircuitBreaker:
        breaker = self.breakers.get(endpoint)
        if breaker is None:
            breaker = CircuitBreaker(
                name=endpoint,
                failure_threshold=self.failure_threshold,
                reset_after=self.reset_after,
            )
            self.breakers[endpoint] = breaker
        return breaker


def model_configured(section: LLMConfigSection) -> bool:
    return bool(section.base_url and section.model)


class LLMKind:
    name = "llm"

    def __init__(
        self, config: TetherConfig | None = None, breakers: EndpointBreakers | None = None
    ) -> None:
        self.config = config
        """The configuration, when the front end loaded it; None: read it when a step runs."""
        self.breakers = breakers or EndpointBreakers()

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = [(key, "unknown field for an llm step") for key in options if key not in _FIELDS]
        prompt = options.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            problems.append(("prompt", "an llm step needs `prompt`: what to ask the model"))
        for name in ("system", "model"):
            if not isinstance(options.get(name, ""), str):
                problems.append((name, "must be a string"))
        fallback = options.get("fallback")
        if fallback not in (None, "agent"):
            problems.append(("fallback", f'must be "agent" (or absent), got {fallback!r}'))
        problems += _limit_problems(options)
        problems += brief_problems(options)
        if (
            self.config is not None
            and not model_configured(self.config.llm)
            and fallback != "agent"
            and not problems
        ):
            problems.append(("fallback", NO_MODEL))
        return problems

    def isolation_problem(self, options: Mapping[str, Any]) -> str | None:
        if options.get("fallback") == "agent":
            return (
                'cannot be combined with fallback = "agent": an agent waits for its result, '
                "and a snapshot worktree would be gone by then"
            )
        return None

    def cancel_grace(self, step: StepSpec) -> float:
        return DEFAULT_CANCEL_GRACE

    async def execute(self, ctx: StepContext) -> Any:
        skip_unless_wanted(ctx.options)
        options = ctx.options
        if ctx.resume_result is not None:
            return agent_output(ctx.resume_result)  # the agent answered for the model
        brief = brief_from_options(options, str(options["prompt"]), str(options.get("system", "")))
        config = self.config
        if config is None:
            config = await run_in_daemon_thread(_load_config, ctx.workspace)
        section = config.llm
        if not model_configured(section):
            if options.get("fallback") == "agent":
                raise StepWaiting(await hand_to_agent(ctx, brief, why=FALLBACK_NOTE))
            raise StepFailed(NO_MODEL)
        try:
            llm_config = build_llm_config(section, options, where=f"step {ctx.step.id}")
        except ValueError as error:
            raise StepFailed(str(error)) from None
        messages = await run_in_daemon_thread(_messages, brief, ctx.workspace)
        return await self._complete(ctx, llm_config, messages)

    async def _complete(
        self, ctx: StepContext, config: LLMConfig, messages: list[dict[str, str]]
    ) -> dict[str, Any]:
        from tether.llm.client import LLMClient, LLMError, LLMTimeout

        client = LLMClient(config)
        client.breaker = self.breakers.for_endpoint(client.endpoint)
        text = _PartialText(ctx)
        try:
            result = await client.stream_chat(messages, remaining=ctx.remaining, on_text=text.add)
        except LLMTimeout as error:
            text.flush()
            if error.phase == "deadline" and not math.isinf(ctx.remaining()):
                await asyncio.sleep(_DEADLINE_HANDOVER)
            raise StepTimedOut(str(error), reason=error.phase) from None
        except LLMError as error:
            text.flush()
            if error.retryable and not error.partial_text:
                # The client already retried within the call; the step's own `retries`
                # (if any) may try again later.
                raise TransientError(str(error)) from None
            raise StepFailed(str(error)) from None
        finally:
            text.flush()
            await client.aclose()
        return {
            "result": result.text,
            "via": "llm",
            "model": result.model,
            "finish_reason": result.finish_reason,
            "usage": result.usage,
            "attempts": result.attempts,
        }


class _PartialText:
    """Streamed text to partial output: per line or every few hundred characters, and
    whatever is left when the call ends, however it ends."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.buffer = ""

    def add(self, piece: str) -> None:
        self.buffer += piece
        self.ctx.heartbeat()
        if "\n" in piece or len(self.buffer) >= _EMIT_CHARS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            text, self.buffer = self.buffer, ""
            self.ctx.emit(text)


def build_llm_config(
    section: LLMConfigSection, options: Mapping[str, Any], *, where: str
) -> LLMConfig:
    """The client configuration for one step: the endpoint from [llm], limits from the step."""
    from tether.llm.config import LLMConfig

    data: dict[str, object] = {
        "base_url": section.base_url,
        "model": options.get("model") or section.model,
        "api_key_env": section.api_key_env,
    }
    for name in (*_TIMEOUTS, "temperature", "max_tokens"):
        if name in options:
            data[name] = options[name]
    if "request_retries" in options:
        data["retry"] = options["request_retries"]
    return LLMConfig.from_mapping(data, where=where)


def _templated(value: Any) -> bool:
    """A value still holding ${...}: checked when the step runs, not at load time."""
    return isinstance(value, str) and "${" in value


def _limit_problems(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    options = {key: value for key, value in options.items() if not _templated(value)}
    problems: list[tuple[str, str]] = []
    for name in _TIMEOUTS:
        if name in options:
            try:
                if parse_duration(options[name]) <= 0:
                    problems.append((name, "must be greater than zero"))
            except ValueError as error:
                problems.append((name, str(error)))
    temperature = options.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        problems.append(("temperature", "must be a number from 0 to 2"))
    max_tokens = options.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        problems.append(("max_tokens", "must be a whole number >= 1"))
    retries = options.get("request_retries")
    if retries is not None:
        from tether.llm.config import LLMConfig

        try:
            LLMConfig.from_mapping(
                {"base_url": "http://localhost", "model": "m", "retry": retries},
                where="request_retries",
            )
        except ValueError as error:
            problems.append(("request_retries", str(error).replace("request_retries: ", "", 1)))
    return problems


def _load_config(workspace: Path) -> TetherConfig:
    from tether.config import load_config

    config, _problems = load_config(workspace)
    return config


def _messages(brief: Brief, workspace: Path) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if brief.guidance.strip():
        messages.append({"role": "system", "content": brief.guidance.strip()})
    plain = Brief(
        task=brief.task,
        context=brief.context,
        inputs=brief.inputs,
        files=brief.files,
        report=brief.report,
    )
    parts = [brief.task.strip()]
    for heading, body in _sections(plain, workspace, context_limit=CONTEXT_CHARS):
        parts += ["", f"## {heading}", "", body]
    if brief.report.strip():
        parts += ["", f"Your answer should contain: {brief.report.strip()}"]
    messages.append({"role": "user", "content": "\n".join(parts)})
    return messages
