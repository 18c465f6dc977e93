"""Alerts over HTTP: list, read, acknowledge, resolve (the dashboard and scripts use these)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.act.alerts import Alert, Alerts
from prognos.errors import InvalidInput
from prognos.ingest.http import read_object
from prognos.server.context import of
from prognos.server.responses import limit_param, respond
from prognos.stream import feedback
from prognos.types import now_ms, prediction_key


async def list_alerts(request: Request) -> Response:
    q, limit = request.query_params, limit_param(request)
    found = await run_in_threadpool(
        of(request).alerts.list, q.get("state"), q.get("device_id"), q.get("severity"), limit
    )
    return respond({"alerts": [a.to_dict() for a in found]})


async def get_alert(request: Request) -> Response:
    return respond((await run_in_threadpool(of(request).alerts.get, request.path_params["id"])).to_dict())


async def acknowledge(request: Request) -> Response:
    return await _change(request, Alerts.acknowledge)


async def resolve(request: Request) -> Response:
    """Resolved by a person; ``"false_alarm": true`` says nothing was wrong, and the device's normal learns it."""
    ctx = of(request)
    body: dict[str, Any] = await read_object(request)
    false_alarm = body.get("false_alarm", False)
    if not isinstance(false_alarm, bool):
        raise InvalidInput("false_alarm: expected true or false", field="false_alarm", value=false_alarm)
    by, note = _person(body)
    alert = await run_in_threadpool(ctx.alerts.resolve, request.path_params["id"], by, note, false_alarm)
    found = alert.scored() if false_alarm else None
    if found is not None:  # kept for every scorer (workers hear it within seconds); this server's learns it now
        model, version, score = found
        peak = await run_in_threadpool(_peak, ctx.store, alert, model, score)
        key, doc = feedback.record(alert.id, alert.device_id, model, version, peak, alert.updated_ts)
        await run_in_threadpool(ctx.store.put_record, feedback.KIND, key, doc)
        if ctx.scorer is not None:
            ctx.scorer.plan.false_alarm(alert.device_id, model, version, peak)
    ctx.hub.publish("alert", alert.event(alert.history[-1]["event"]))
    return respond(alert.to_dict())


def _peak(store: Any, alert: Alert, model: str, opened: float) -> float:
    """The highest raw score the alert's model gave its device from the alert's opening until now (what a person
    called normal), at least the score that opened it."""
    key = prediction_key(model, "anomaly.score")
    scores = store.read(alert.device_id, alert.opened_ts, now_ms() + 1, [key]).column("value").to_numpy()
    return float(max(opened, scores.max())) if len(scores) else opened


def _person(body: dict[str, Any]) -> tuple[str, str | None]:
    """Who changes an alert (``by``), and their optional ``note``."""
    by, note = body.get("by"), body.get("note")
    if not isinstance(by, str) or not by.strip():
        raise InvalidInput("by: expected who does it (a non-empty string)", field="by", value=by)
    if note is not None and not isinstance(note, str):
        raise InvalidInput("note: expected a string", field="note", value=note)
    return by, note


ROUTES = [
    Route("/api/v1/alerts", list_alerts, methods=["GET"]),
    Route("/api/v1/alerts/{id}", get_alert, methods=["GET"]),
    Route("/api/v1/alerts/{id}/acknowledge", acknowledge, methods=["POST"]),
    Route("/api/v1/alerts/{id}/resolve", resolve, methods=["POST"]),
]


async def _change(request: Request, verb: Callable[[Alerts, str, str, str | None], Alert]) -> Response:
    """An alert changed by a person (``by``, with an optional ``note``); live views hear of it."""
    ctx = of(request)
    by, note = _person(await read_object(request))
    alert = await run_in_threadpool(verb, ctx.alerts, request.path_params["id"], by, note)
    ctx.hub.publish("alert", alert.event(alert.history[-1]["event"]))
    return respond(alert.to_dict())
