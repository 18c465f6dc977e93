"""MQTT ingestion: devices publish, prognos stores, and only then acknowledges.

Topics (QoS 1):

* ``prognos/devices/{device_id}/telemetry`` - the device's own telemetry, same bodies as HTTP;
* ``v1/gateway/telemetry`` - the ThingsBoard gateway form;
* ``v1/gateway/connect`` - ``{"device": "…", "type": "…"}`` registers a device and its type.

The session is MQTT 5 and persistent (``clean_start=False`` with a session expiry), so what devices
publish while prognos is down waits in the broker. PUBACK is sent by hand once the readings are
durable: a crash before the commit leaves the message unacknowledged and the broker redelivers it.
With a group name the subscriptions are shared (``$share/<group>/…``) and processes split the load.
Rejected values are reported to the device on ``prognos/devices/{device_id}/errors``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from prognos.broker import Broker, Session, stop, subscribe
from prognos.errors import InvalidInput
from prognos.ingest.payload import Decoded, Limits, check_device_id, decode_device, decode_gateway, parse_json
from prognos.types import Reading

log = logging.getLogger(__name__)

DEVICE_TOPIC = "prognos/devices/+/telemetry"
GATEWAY_TOPIC = "v1/gateway/telemetry"
CONNECT_TOPIC = "v1/gateway/connect"
Submit = Callable[..., None]  # BatchWriter.submit_then
OnDevice = Callable[[str, "str | None"], None]


@dataclass
class MqttStats:
    connected: bool = False
    subscribed: bool = False  # the broker acknowledged the subscriptions of the current connection
    session_present: bool | None = None
    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    readings: int = 0
    rejected: int = 0
    write_retries: int = 0
    last_error: str | None = None


class MqttSource:
    def __init__(
        self,
        url: str,
        submit: Submit,
        *,
        client_id: str,
        group: str | None = None,
        session_expiry: int = 7 * 86_400,
        limits: Limits = Limits(),
        on_device: OnDevice | None = None,
    ) -> None:
        self.broker = Broker.parse(url)
        self.submit = submit
        self.client_id = client_id
        self.group = group
        # Persistent, acknowledged by hand once durable; up to 10,000 messages in flight while we commit.
        self.session = Session(expiry=session_expiry, manual_ack=True, receive_maximum=10_000)
        self.limits = limits
        self.on_device = on_device
        self.stats = MqttStats()
        self._client: Any = None

    def topics(self) -> list[str]:
        prefix = f"$share/{self.group}/" if self.group else ""
        return [prefix + t for t in (DEVICE_TOPIC, GATEWAY_TOPIC, CONNECT_TOPIC)]

    def start(self) -> None:
        client = self.broker.client(self.client_id, self.session)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.broker.start(client, self.session)
        self._client = client

    def stop(self) -> None:
        if self._client is not None:
            stop(self._client)
            self._client = None
            self.stats.connected = self.stats.subscribed = False

    def status(self) -> dict[str, Any]:
        return {"broker": self.broker.url, "client_id": self.client_id, "group": self.group, **asdict(self.stats)}

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.stats.last_error = f"connect refused: {reason}"
            return
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.session_present = bool(flags.session_present)
        subscribe(client, self.topics())
        log.info("connected to %s as %s (session present: %s)", self.broker.url, self.client_id, flags.session_present)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        refused = [r for r in reasons if r.is_failure]
        self.stats.subscribed = not refused
        if refused:
            self.stats.last_error = f"subscription refused: {refused[0]}"

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.stats.connected = self.stats.subscribed = False
        self.stats.disconnects += 1
        self.stats.last_error = f"disconnected: {reason}"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self.stats.messages += 1
        try:
            decoded = self._decode(msg.topic, msg.payload)
        except InvalidInput as exc:
            decoded = None
            self.stats.rejected += 1
            self._report(msg.topic, {"error": str(exc), "field": exc.field})
        except Exception as exc:  # a bad message must never stop the network thread
            decoded = None
            self.stats.rejected += 1
            log.exception("could not handle message on %s: %s", msg.topic, exc)
        if decoded is not None and decoded.rejections:
            self.stats.rejected += len(decoded.rejections)
            self._report(msg.topic, {"rejected": [r.as_dict() for r in decoded.rejections]})
        if decoded is None or not decoded.readings:
            client.ack(msg.mid, msg.qos)
            return
        self._store(decoded.readings, msg.mid, msg.qos)

    def _store(self, readings: list[Reading], mid: int, qos: int, attempt: int = 0) -> None:
        def done(error: BaseException | None) -> None:  # on the writer thread, in submission order
            if error is None:
                self.stats.readings += len(readings)
                if self._client is not None:
                    self._client.ack(mid, qos)
                return
            # Not acknowledged: retry; if we die first, the broker redelivers.
            self.stats.write_retries += 1
            self.stats.last_error = f"store write failed: {error}"
            delay = min(30.0, 0.5 * 2**attempt)
            threading.Timer(delay, self._store, (readings, mid, qos, attempt + 1)).start()

        self.submit(readings, done, block=True)  # blocks when the store falls behind: back-pressure to the broker

    def _decode(self, topic: str, payload: bytes) -> Decoded | None:
        parts = topic.split("/")
        if len(parts) == 4 and parts[:2] == ["prognos", "devices"] and parts[3] == "telemetry":
            return decode_device(payload, parts[2], self.limits)
        if topic == GATEWAY_TOPIC:
            return decode_gateway(payload, self.limits)
        if topic == CONNECT_TOPIC:
            self._connect_device(parse_json(payload))
            return None
        raise InvalidInput(f"unexpected topic {topic!r}", field="topic", value=topic)

    def _connect_device(self, doc: Any) -> None:
        if not isinstance(doc, dict) or not isinstance(doc.get("device"), str):
            raise InvalidInput('expected {"device": "<id>", "type": "<type>"}', field="device", value=doc)
        device_type = doc.get("type")
        if device_type is not None and not isinstance(device_type, str):
            raise InvalidInput("type: expected a string", field="type", value=device_type)
        if self.on_device is not None:
            self.on_device(check_device_id(doc["device"]), device_type)

    def _report(self, topic: str, body: dict[str, Any]) -> None:
        parts = topic.split("/")
        if len(parts) == 4 and parts[:2] == ["prognos", "devices"] and self._client is not None:
            self._client.publish(f"prognos/devices/{parts[2]}/errors", orjson.dumps(body), qos=0)
        log.debug("rejected on %s: %s", topic, body)


def wait_subscribed(source: MqttSource, timeout: float = 10.0) -> bool:
    """Whether the source is connected and its subscriptions acknowledged within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not source.stats.subscribed and time.monotonic() < deadline:
        time.sleep(0.02)
    return source.stats.subscribed
