"""Actions an alert triggers: a command to the device over MQTT, a webhook to anyone else.

Each action runs once per alert and event: before acting, the alert's recorded outcomes are checked
(``actions["webhook:open"]`` already ok → skip), and every message carries the alert id so the
receiver can drop a duplicate that a crash between sending and recording let through. Outcomes —
ok or not, attempts, status, error — are written back on the alert.

    webhook: POST JSON; with a secret, ``X-Prognos-Timestamp: <unix s>`` and ``X-Prognos-Signature:
             sha256=<HMAC of "<timestamp>." + body>``, so a receiver can refuse a replay of an old request
             (`verify` does both checks); ``Idempotency-Key: <alert id>:<event>``; retried with exponential
             back-off on connection errors, timeouts, 429 and 5xx; other 4xx are final.
    mqtt:    ``prognos/devices/{device_id}/commands``, JSON, QoS 1, sent once the broker acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from prognos.act.alerts import Alert, Alerts
from prognos.broker import Broker, Session, delivered, stop
from prognos.errors import BrokerUnavailable, ConfigError, require

log = logging.getLogger(__name__)

COMMAND_TOPIC = "prognos/devices/{device_id}/commands"


def message(alert: Alert, event: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "event": event,
        "rule": alert.rule,
        "device_id": alert.device_id,
        "severity": alert.severity,
        "value": alert.value,
        "opened_ts": alert.opened_ts,
        "explanation": alert.explanation,
        **(extra or {}),
    }


TOLERANCE_S = 300  # how old a signed request may be before `verify` refuses it as a replay


def sign(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    """The signature headers of ``body`` at ``at`` (unix seconds, default now)."""
    ts = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-prognos-timestamp": ts, "x-prognos-signature": f"sha256={digest}"}


def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = TOLERANCE_S) -> bool:
    """For a receiver: the request was signed with ``secret`` less than ``tolerance_s`` ago (not a replay)."""
    ts = headers.get("x-prognos-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance_s:
        return False
    expected = sign(secret, body, int(ts))["x-prognos-signature"]
    return hmac.compare_digest(expected, headers.get("x-prognos-signature", ""))


class Webhook:
    def __init__(
        self, url: str, secret: str | None = None, timeout: float = 5.0, retries: int = 3, backoff: float = 0.5
    ) -> None:
        self.url, self.secret, self.timeout, self.retries, self.backoff = url, secret, timeout, retries, backoff

    def send(self, alert: Alert, event: str) -> dict[str, Any]:
        httpx = require("httpx", "serve")
        body = orjson.dumps(message(alert, event))
        headers = {
            "content-type": "application/json",
            "idempotency-key": f"{alert.id}:{event}",
            "x-prognos-alert-id": alert.id,
        }
        outcome: dict[str, Any] = {"ok": False, "attempts": 0}
        for attempt in range(1, self.retries + 2):
            outcome["attempts"] = attempt
            if self.secret:  # signed afresh each attempt: a retry is as recent as it is
                headers |= sign(self.secret, body)
            try:
                r = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
                outcome |= {"status": r.status_code, "error": None}
                if r.status_code < 300:
                    outcome["ok"] = True
                    break
                if r.status_code < 500 and r.status_code != 429:
                    outcome["error"] = f"refused with {r.status_code}"
                    break  # the receiver said no: retrying would not change that
            except httpx.HTTPError as exc:
                outcome |= {"status": None, "error": f"{type(exc).__name__}: {exc}"}
            if attempt <= self.retries:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        outcome["ts"] = int(time.time() * 1000)
        return outcome


class MqttCommand:
    """One broker connection; each send publishes to the device's command topic, ``command`` merged in."""

    def __init__(self, url: str, timeout: float = 10.0, client_id: str | None = None) -> None:
        self.broker = Broker.parse(url)
        self.timeout = timeout
        self.client_id = client_id or f"prognos-actions-{time.time_ns()}"
        self._client: Any = None

    def send(self, alert: Alert, event: str, command: Mapping[str, Any] | None = None) -> dict[str, Any]:
        topic = COMMAND_TOPIC.format(device_id=alert.device_id)
        outcome: dict[str, Any] = {"ok": True, "attempts": 1, "topic": topic, "error": None}
        try:
            info = self._connected().publish(topic, orjson.dumps(message(alert, event, command)), qos=1)
            delivered(info, self.timeout, topic)  # once the broker acknowledged it (PUBACK)
        except BrokerUnavailable as exc:
            outcome |= {"ok": False, "error": str(exc)}
        return outcome | {"ts": int(time.time() * 1000)}

    def close(self) -> None:
        if self._client is not None:
            stop(self._client)
            self._client = None

    def _connected(self) -> Any:
        if self._client is None:
            session = Session(keepalive=30)
            client = self.broker.client(self.client_id, session)
            self.broker.start(client, session, wait=True)
            self._client = client
        return self._client


class Actions:
    """Runs the actions of a rule for an alert event, once each, and records what happened."""

    def __init__(self, alerts: Alerts, mqtt_url: str | None = None) -> None:
        self.alerts, self.mqtt_url = alerts, mqtt_url
        self._mqtt: dict[str, MqttCommand] = {}

    def run(self, alert: Alert, event: str, specs: tuple[Mapping[str, Any], ...]) -> Alert:
        for i, spec in enumerate(specs):
            ((kind, config),) = spec.items()
            config = dict(config or {})
            if event not in config.get("on", ["open"]):
                continue
            name = f"{kind}{i}:{event}"
            done = alert.actions.get(name)
            if done and done.get("ok"):
                continue  # already acted on this event: never twice
            outcome = self._send(kind, config, alert, event)
            if not outcome["ok"]:
                log.warning("alert %s: %s failed: %s", alert.id, name, outcome.get("error"))
            alert = self.alerts.record_action(alert.id, name, outcome)
        return alert

    def close(self) -> None:
        for m in self._mqtt.values():
            m.close()

    def _send(self, kind: str, config: dict[str, Any], alert: Alert, event: str) -> dict[str, Any]:
        if kind == "webhook":
            hook = Webhook(
                config["url"],
                config.get("secret"),
                float(config.get("timeout", 5.0)),
                int(config.get("retries", 3)),
                float(config.get("backoff", 0.5)),
            )
            return hook.send(alert, event)
        url = config.get("url") or self.mqtt_url
        if not url:
            raise ConfigError("an mqtt action needs a broker: give it url: or run the server with --mqtt")
        if url not in self._mqtt:
            self._mqtt[url] = MqttCommand(url)
        return self._mqtt[url].send(alert, event, config.get("command"))
