"""HAProxy's logs as the agent collected them: ``GET /api/v1/logs`` and
``GET /api/v1/logs/stream`` (server-sent events), both ``viewer``.

The lines come from the controller's :class:`lbctl.haproxy.logs.LogCollector` (the last
:data:`lbctl.haproxy.logs.DEFAULT_CAPACITY` lines HAProxy sent to the agent's log socket),
each a :class:`lbctl.client.log_models.LogLine`. Filters: ``frontend``, ``backend`` and
``status`` match parsed HTTP lines only; ``since`` (epoch seconds) and ``after_seq`` (the
``seq`` of the last line already seen) match every line.

The stream sends each matching line as one event (``id: <seq>``, ``event: log``, ``data:``
the line as JSON), a ``: keep-alive`` comment every :data:`KEEP_ALIVE_S` seconds, and ends
after ``max_s`` seconds; a client reconnects with ``Last-Event-ID`` (or ``after_seq``) and
misses nothing the agent still holds (EventSource does so by itself).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from lbctl.api.auth import require_role
from lbctl.api.contract import answer, ok, problems
from lbctl.api.deps import ControllerDep
from lbctl.client.log_models import LogLine, LogLines
from lbctl.haproxy.logs import LogCollector, LogFilter

__all__ = ["KEEP_ALIVE_S", "logs_router"]

logs_router = APIRouter(tags=["logs"])

#: Seconds between two keep-alive comments of an idle stream.
KEEP_ALIVE_S = 15.0

Frontend = Annotated[str | None, Query(max_length=64, description="Only HTTP lines of this frontend")]
Backend = Annotated[str | None, Query(max_length=64, description="Only HTTP lines of this backend")]
Status = Annotated[int | None, Query(ge=-1, le=999, description="Only HTTP lines with this status")]
Since = Annotated[float | None, Query(ge=0, description="Only lines received at or after, epoch s")]
AfterSeq = Annotated[int, Query(ge=0, description="Only lines newer than this seq")]


def _filter(frontend: str | None, backend: str | None, status: int | None,
            since: float | None, after_seq: int) -> LogFilter:
    return LogFilter(frontend=frontend, backend=backend, status=status, since=since,
                     after_seq=after_seq)


def _line(record: object) -> dict[str, object]:
    return LogLine.model_validate(record, from_attributes=True).model_dump(mode="json")


@logs_router.get(
    "/logs",
    dependencies=[Depends(require_role("viewer"))],
    operation_id="get_logs",
    summary="HAProxy's recent log lines, parsed (filters: frontend, backend, status, since)",
    responses={**ok(LogLines, "The matching lines the agent holds, oldest first"),
               **problems(422)},
)
def get_logs(
    controller: ControllerDep,
    frontend: Frontend = None,
    backend: Backend = None,
    status: Status = None,
    since: Since = None,
    after_seq: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many (newest)")] = 100,
) -> JSONResponse:
    """The newest ``limit`` lines that match, oldest first, as :class:`LogLines`."""
    logs: LogCollector = controller.logs
    lines = logs.records(_filter(frontend, backend, status, since, after_seq), limit=limit)
    return answer({"lines": [_line(r) for r in lines], "last_seq": logs.last_seq,
                   "capacity": logs.capacity, "collecting": logs.is_open,
                   "unavailable": logs.unavailable})


@logs_router.get(
    "/logs/stream",
    dependencies=[Depends(require_role("viewer"))],
    operation_id="stream_logs",
    summary="HAProxy's log lines as they arrive (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"description": "text/event-stream: `id: <seq>`, `event: log`, `data:` a "
                                    "LogLine as JSON; ends after max_s seconds",
                     "content": {"text/event-stream": {"schema": {
                         "type": "object", "required": ["data"],
                         "properties": {"id": {"type": "string", "pattern": r"^\d+$"},
                                        "event": {"type": "string", "enum": ["log"]},
                                        "data": {"type": "string",
                                                 "description": "a LogLine, as JSON"}}}}}},
               **problems(422)},
)
async def stream_logs(
    request: Request,
    controller: ControllerDep,
    frontend: Frontend = None,
    backend: Backend = None,
    status: Status = None,
    after_seq: AfterSeq = 0,
    max_s: Annotated[float, Query(gt=0, le=3600, description="Seconds before the stream "
                                  "ends (reconnect with Last-Event-ID)")] = 600.0,
    last_event_id: Annotated[str | None, Header(max_length=20, pattern=r"^\d{1,20}$")] = None,
) -> StreamingResponse:
    """Every new line that matches, as it arrives; lines the agent still holds after
    ``after_seq`` (or ``Last-Event-ID``) come first."""
    logs: LogCollector = controller.logs
    start = max(after_seq, int(last_event_id) if last_event_id else 0)
    return StreamingResponse(_events(request, logs,
                                     _filter(frontend, backend, status, None, start), max_s),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(request: Request, logs: LogCollector, where: LogFilter,
                  max_s: float) -> AsyncIterator[str]:
    """The stream's text: pending lines, then each new one, until ``max_s`` or the client
    goes away (checked on every wake-up and keep-alive)."""
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:  # called in the collector's thread
        loop.call_soon_threadsafe(woken.set)

    unsubscribe = logs.subscribe(wake)
    end = time.monotonic() + max_s
    try:
        yield ": lbctl log stream\n\n"
        while True:
            woken.clear()
            top = logs.last_seq
            for record in logs.records(where):
                if record.seq <= top:
                    yield f"id: {record.seq}\nevent: log\ndata: {json.dumps(_line(record))}\n\n"
            where.after_seq = max(where.after_seq, top)
            left = end - time.monotonic()
            if left <= 0 or await request.is_disconnected():
                return
            try:
                await asyncio.wait_for(woken.wait(), timeout=min(left, KEEP_ALIVE_S))
            except TimeoutError:
                if end - time.monotonic() > 0:
                    yield ": keep-alive\n\n"
    finally:
        unsubscribe()
