"""Actions against real listeners on loopback: an HTTP server for webhooks, the test Mosquitto for commands."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prognos.act.actions import Actions, Webhook, sign, verify
from prognos.act.alerts import Alerts
from prognos.act.rules import Condition, Engine, Rule
from prognos.store import open_store
from tests.services import listener


class Receiver:
    """A webhook endpoint that answers ``statuses`` in turn (then 200) and keeps what it got."""

    def __init__(self, statuses=(), delay: float = 0.0):
        self.got: list[tuple[dict, dict]] = []
        self.statuses, self.delay = list(statuses), delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.got.append(
                    ({k.lower(): v for k, v in self.headers.items()}, json.loads(body) | {"_raw": body.decode()})
                )
                time.sleep(outer.delay)
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def an_alert():
    store = open_store("memory://")
    alerts = Alerts(store)
    (t,) = Engine([Rule("hot", Condition("raw.temperature", above=80))]).observe(
        "pump-1", 1000, {"raw.temperature": 99}
    )
    return alerts, alerts.apply(t, {"top_sensors": [["temperature", 1.0]]})


def test_a_webhook_is_signed_retried_on_5xx_and_sent_once_per_event():
    receiver = Receiver(statuses=[503, 502])
    alerts, alert = an_alert()
    actions = Actions(alerts)
    spec = ({"webhook": {"url": receiver.url, "secret": "s3cret", "backoff": 0.01}},)
    try:
        alert = actions.run(alert, "open", spec)
        outcome = alert.actions["webhook0:open"]
        assert outcome["ok"] and outcome["attempts"] == 3 and outcome["status"] == 200
        headers, body = receiver.got[-1]
        assert body["alert_id"] == alert.id and body["device_id"] == "pump-1" and body["event"] == "open"
        raw = body["_raw"].encode()
        signed = headers["x-prognos-timestamp"].encode() + b"." + raw
        expected = hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
        assert headers["x-prognos-signature"] == f"sha256={expected}"
        assert abs(int(headers["x-prognos-timestamp"]) - time.time()) < 60
        assert verify("s3cret", headers, raw) and not verify("other", headers, raw)
        assert not verify("s3cret", headers, raw + b" ")  # the body changed
        old = {**headers, **sign("s3cret", raw, int(time.time()) - 3600)}
        assert not verify("s3cret", old, raw)  # signed an hour ago: a replay
        assert headers["idempotency-key"] == f"{alert.id}:open"
        actions.run(alerts.get(alert.id), "open", spec)  # a replay: already done, nothing sent
        assert len(receiver.got) == 3
        actions.run(alert, "resolve", spec)  # not subscribed to resolve
        assert len(receiver.got) == 3
    finally:
        receiver.close()


def test_a_refusing_or_slow_webhook_is_recorded_as_failed():
    refusing, slow = Receiver(statuses=[400]), Receiver(delay=0.5)
    alerts, alert = an_alert()
    try:
        refused = Webhook(refusing.url, backoff=0.01).send(alert, "open")
        assert not refused["ok"] and refused["attempts"] == 1 and refused["error"] == "refused with 400"
        timed_out = Webhook(slow.url, timeout=0.1, retries=1, backoff=0.01).send(alert, "open")
        assert not timed_out["ok"] and timed_out["attempts"] == 2 and "Timeout" in timed_out["error"]
        gone = Webhook("http://127.0.0.1:9/none", retries=0).send(alert, "open")
        assert not gone["ok"] and "Connect" in gone["error"]
        alert = Actions(alerts).run(alert, "open", ({"webhook": {"url": refusing.url, "backoff": 0.01}},))
        assert alert.actions["webhook0:open"]["ok"] is True  # the receiver's queue is empty now: it answers 200
    finally:
        refusing.close()
        slow.close()


def test_an_mqtt_command_reaches_the_device_topic(broker):
    got = []
    device = listener(
        broker.url,
        ["prognos/devices/+/commands"],
        "device-pump-1",
        lambda c, u, m: got.append((m.topic, json.loads(m.payload))),
    )
    alerts, alert = an_alert()
    actions = Actions(alerts, mqtt_url=broker.url)
    try:
        spec = ({"mqtt": {"command": {"action": "stop"}, "on": ["open", "resolve"]}},)
        alert = actions.run(alert, "open", spec)
        assert alert.actions["mqtt0:open"]["ok"]
        actions.run(alert, "open", spec)  # idempotent
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a second command, had the idempotent replay sent one, would have arrived by now
        assert len(got) == 1
        topic, msg = got[0]
        assert topic == "prognos/devices/pump-1/commands"
        assert msg["action"] == "stop" and msg["alert_id"] == alert.id and msg["severity"] == "warning"
    finally:
        actions.close()
        device.loop_stop()
        device.disconnect()
