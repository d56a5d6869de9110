from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI-compatible server on 127.0.0.1 for the llm client and llm step tests."""
    async with FakeOpenAI() as server:
        yield server
