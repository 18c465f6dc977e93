"""What the API's endpoints reach: one server's parts, built once at start-up from its settings.

`prognos.server.parts.assemble` builds a `Context`; the app keeps it as ``app.state.context``, where every
endpoint — a plain module-level function — finds it (`of`), and the lifespan starts and stops what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from prognos.act.alerts import Alerts
from prognos.config import Settings
from prognos.inference.deployments import Deployments
from prognos.inference.metrics import Metrics
from prognos.inference.recording import Recorder
from prognos.ingest.http import Intake
from prognos.ingest.mqtt import MqttSource
from prognos.registry import Registry
from prognos.retrain import Retrainer
from prognos.server.health import Probe
from prognos.server.hub import Hub
from prognos.store import Store
from prognos.store.writer import BatchWriter
from prognos.stream.bus import Bus
from prognos.stream.scorer import Scorer


@dataclass(frozen=True)
class Context:
    settings: Settings
    store: Store
    writer: BatchWriter  # readings in, durable before they are acknowledged
    intake: Intake  # how HTTP telemetry is taken (limits, body size)
    registry: Registry
    deployments: Deployments  # what each model name serves
    recorder: Recorder  # sampled payloads and shadow outputs
    alerts: Alerts
    hub: Hub  # live updates for the dashboard
    metrics: Metrics  # one Prometheus registry for every part
    probe: Probe  # the store's answer to a ping, for health
    scorer: Scorer | None = None  # with --stream
    retrainer: Retrainer | None = None  # with retrain policies in the rules file
    source: MqttSource | None = None  # with --mqtt
    bus: Bus | None = None  # with --partitions


def of(request: Request) -> Context:
    """The server's context, for an endpoint."""
    context: Context = request.app.state.context
    return context
