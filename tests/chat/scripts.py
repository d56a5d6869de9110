"""What the scripted model reads from a conversation: the skill a `Skill` call loaded and
the commands that skill prescribes, so the model runs them as written in the skill."""

from __future__ import annotations

import re
import shlex

from tests.cli.pack_text import command_lines
from tests.fakes.anthropic import Conversation

SKILL_BODY_MARK = "Base directory for this skill: "
EXIT_CODE = re.compile(r"^Exit code (\d+)")


def loaded_skill(conversation: Conversation, name: str) -> str:
    """The body of skill `name` as Claude Code delivered it after the Skill call."""
    for message in reversed(conversation.messages):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            text = block.get("text", "") if isinstance(block, dict) else ""
            first = text.split("\n", 1)[0]
            if first.startswith(SKILL_BODY_MARK) and first.rstrip("/").endswith(f"/{name}"):
                return text
    raise AssertionError(f"turn {conversation.turn}: the {name} skill's body is not in the request")


def prescribed(skill_text: str, *words: str) -> str:
    """The first `tether WORDS...` command the skill text gives, exactly as written."""
    for command in command_lines(skill_text):
        if shlex.split(command)[1 : 1 + len(words)] == list(words):
            return command
    raise AssertionError(f"the skill prescribes no `tether {' '.join(words)}` command")


def exit_code(text: str, is_error: bool) -> int:
    """A Bash result's exit code: Claude Code puts `Exit code N` first in a failed one."""
    if not is_error:
        return 0
    match = EXIT_CODE.match(text)
    assert match, f"an error result without an exit code: {text[:300]}"
    return int(match[1])
