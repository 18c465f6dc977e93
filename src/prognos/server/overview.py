"""What the dashboard reads, and any script may: the fleet's status, a model's drift over time, system numbers.

- ``GET /api/v1/fleet?offline_after=5m`` every device with status, last seen (epoch ms), the latest anomaly score,
  predicted state, remaining life (p10/p50/p90, seconds) and open alerts (`prognos.monitor.fleet`);
- ``GET /api/v1/models/{name}/drift?start=&end=`` the drift figures the scorer measured for the model, over time;
- ``GET /api/v1/system`` the numbers behind ``/metrics`` that an operator watches, as JSON: readings stored, the
  store queue, the scorer's backlog, windows scored, decision and inference latency.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import PrognosError
from prognos.inference.metrics import Metrics
from prognos.monitor.fleet import STATUSES, summary
from prognos.server.context import Context, of
from prognos.server.devices import window
from prognos.server.responses import respond
from prognos.store import Store
from prognos.types import now_ms, parse_duration, prediction_key


async def fleet(request: Request) -> Response:
    offline = parse_duration(request.query_params.get("offline_after", "5m"), "offline_after")
    rows = await run_in_threadpool(_fleet, of(request), offline)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    return respond({"devices": rows, "counts": counts, "ts": now_ms()})


async def drift(request: Request) -> Response:
    ctx, name = of(request), request.path_params["name"]
    await run_in_threadpool(ctx.registry.versions, name)  # an unknown model is a 404
    start, end, _ = window(request.query_params, default_span=86_400_000)
    series = await run_in_threadpool(_drift, ctx.store, name, start, end)
    return respond({"model": name, "start": start, "end": end, "series": series})


async def system(request: Request) -> Response:
    ctx = of(request)
    return respond({"ts": now_ms(), "writer": asdict(ctx.writer.stats), "metrics": _numbers(ctx.metrics)})


ROUTES = [
    Route("/api/v1/fleet", fleet, methods=["GET"]),
    Route("/api/v1/models/{name}/drift", drift, methods=["GET"]),
    Route("/api/v1/system", system, methods=["GET"]),
]


def _fleet(ctx: Context, offline: int) -> list[dict[str, Any]]:
    alerts = ctx.alerts.list("open", limit=100_000) + ctx.alerts.list("acknowledged", limit=100_000)
    return summary(ctx.store.devices(), ctx.store.latest().to_pylist(), alerts, now_ms(), offline, _classes(ctx))


def _classes(ctx: Context) -> dict[str, list[str]]:
    """Each classifier's class names, from its champion's card (the fleet shows a state by name)."""
    out = {}
    for name in ctx.registry.names():
        try:
            card = ctx.registry.get(name).card
        except PrognosError:
            continue
        if card.get("task") == "classify":
            out[name] = [str(c) for c in (card.get("output") or {}).get("classes") or []]
    return out


def _drift(store: Store, name: str, start: int, end: int) -> dict[str, dict[str, list[Any]]]:
    head = prediction_key(name, "drift.")
    rows = [r for r in store.latest().to_pylist() if r["key"].startswith(head)]
    keys, devices = sorted({r["key"] for r in rows}), sorted({r["device_id"] for r in rows})
    if not keys:
        return {}
    t = store.read_many(devices, start, end, keys)
    columns = (t.column(c).to_pylist() for c in ("ts", "key", "value"))
    out: dict[str, dict[str, list[Any]]] = {}
    for ts, key, value in sorted(zip(*columns, strict=True)):  # measured fleet-wide, kept on one device each time
        s = out.setdefault(key[len(head) :], {"ts": [], "values": []})
        s["ts"].append(ts)
        s["values"].append(value)
    return out


WATCHED = (
    "prognos_stream_backlog",
    "prognos_stream_late_readings",
    "prognos_stream_predictions",
    "prognos_stream_decision_seconds",
    "prognos_inference_request_seconds",
    "prognos_inference_requests",
    "prognos_inference_compute_seconds",
    "prognos_inference_batch_size",
    "prognos_alert_transitions",
    "prognos_retrain_shadow",
)


def _numbers(metrics: Metrics) -> dict[str, float]:
    """Counters and gauges summed over their labels; histograms as ``<name>_sum`` and ``<name>_count``."""
    out: dict[str, float] = {}
    for family in metrics.registry.collect():
        if family.name not in WATCHED:
            continue
        for s in family.samples:
            if s.name.endswith("_bucket") or s.name.endswith("_created"):
                continue
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out
