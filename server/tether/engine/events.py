"""The one event stream that leaves the engine.

The journal, the terminal renderer and LSP progress are all subscribers of an EventBus;
the engine never talks to a front end directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.engine.redaction import Redactor

logger = logging.getLogger(__name__)


class EventType(StrEnum):
    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_PAUSED = "run_paused"
    RUN_FINISHED = "run_finished"
    STEP_STARTED = "step_started"
    STEP_OUTPUT = "step_output"
    STEP_HEARTBEAT = "step_heartbeat"
    STEP_RETRY = "step_retry"
    STEP_WAITING = "step_waiting"
    STEP_FINISHED = "step_finished"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    run_id: str
    seq: int
    ts: float
    """Wall-clock epoch seconds."""
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"seq": self.seq, "ts": self.ts, "type": str(self.type)}
        record["run_id"] = self.run_id
        if self.step is not None:
            record["step"] = self.step
        record.update(self.data)
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Event:
        """Inverse of to_json. Raises KeyError/ValueError on a record that is not an event."""
        data = {k: v for k, v in record.items() if k not in ("seq", "ts", "type", "run_id", "step")}
        step = record.get("step")
        return cls(
            type=EventType(record["type"]),
            run_id=str(record["run_id"]),
            seq=int(record["seq"]),
            ts=float(record["ts"]),
            step=str(step) if step is not None else None,
            data=data,
        )


Subscriber = Callable[[Event], None]


class EventBus:
    """Assigns sequence numbers and fans events out to subscribers, in order, synchronously.

    Subscribers must be quick (append to a file, put on a queue); one that raises is
    logged and does not stop the run or the other subscribers.
    """

    def __init__(self, run_id: str, next_seq: int = 1) -> None:
        self.run_id = run_id
        self._next_seq = next_seq
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, type: EventType, step: str | None = None, **data: Any) -> Event:
        redactor = Redactor()
        if redactor.active:  # every subscriber (journal, terminal, editor) sees it masked
            data = redactor.json(data)
        event = Event(type, self.run_id, self._next_seq, time.time(), step, data)
        self._next_seq += 1
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                logger.exception("event subscriber %r failed on %s", subscriber, event.type)
        return event
