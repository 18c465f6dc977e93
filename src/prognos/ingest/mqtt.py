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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from prognos.errors import ConfigError, InvalidInput, require
from prognos.ingest.payload import Decoded, Limits, check_device_id, decode_device, decode_gateway, parse_json
from prognos.types import Reading

if TYPE_CHECKING:
    from prognos.config import Settings

log = logging.getLogger(__name__)

DEVICE_TOPIC = "prognos/devices/+/telemetry"
GATEWAY_TOPIC = "v1/gateway/telemetry"
CONNECT_TOPIC = "v1/gateway/connect"
Submit = Callable[..., None]  # BatchWriter.submit_then
OnDevice = Callable[[str, "str | None"], None]


@dataclass
class MqttStats:
    connected: bool = False
    session_present: bool | None = None
    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    readings: int = 0
    rejected: int = 0
    write_retries: int = 0
    last_error: str | None = None


def parse_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ConfigError(f"MQTT URL {url!r}: expected mqtt://host[:port]")
    return parts.hostname, parts.port or 1883


class MqttSource:
    def __init__(
        self,
        url: str,
        submit: Submit,
        *,
        client_id: str,
        group: str | None = None,
        session_expiry: int = 7 * 86_400,
        receive_maximum: int = 10_000,
        limits: Limits = Limits(),
        on_device: OnDevice | None = None,
    ) -> None:
        self.host, self.port = parse_url(url)
        self.submit = submit
        self.client_id = client_id
        self.group = group
        self.session_expiry = session_expiry
        self.receive_maximum = receive_maximum
        self.limits = limits
        self.on_device = on_device
        self.stats = MqttStats()
        self._client: Any = None

    @classmethod
    def from_settings(cls, s: Settings, submit: Submit, limits: Limits, on_device: OnDevice | None) -> MqttSource:
        import socket

        assert s.mqtt is not None
        client_id = s.mqtt_client_id or f"prognos-{socket.gethostname()}" + (f"-{s.mqtt_group}" if s.mqtt_group else "")
        return cls(
            s.mqtt,
            submit,
            client_id=client_id,
            group=s.mqtt_group,
            session_expiry=s.mqtt_session_expiry,
            limits=limits,
            on_device=on_device,
        )

    def topics(self) -> list[str]:
        prefix = f"$share/{self.group}/" if self.group else ""
        return [prefix + t for t in (DEVICE_TOPIC, GATEWAY_TOPIC, CONNECT_TOPIC)]

    def start(self) -> None:
        mqtt = require("paho.mqtt.client", "mqtt")
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)  # back-off while the broker is away
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        props.ReceiveMaximum = self.receive_maximum  # unacknowledged messages in flight while we commit
        client.connect_async(self.host, self.port, keepalive=15, clean_start=False, properties=props)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
            self.stats.connected = False

    def status(self) -> dict[str, Any]:
        return {
            "broker": f"mqtt://{self.host}:{self.port}",
            "client_id": self.client_id,
            "group": self.group,
            **asdict(self.stats),
        }

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.stats.last_error = f"connect refused: {reason}"
            return
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.session_present = bool(flags.session_present)
        from paho.mqtt.subscribeoptions import SubscribeOptions

        client.subscribe([(t, SubscribeOptions(qos=1)) for t in self.topics()])
        log.info(
            "connected to mqtt://%s:%d as %s (session present: %s)",
            self.host,
            self.port,
            self.client_id,
            flags.session_present,
        )

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.stats.connected = False
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


def wait_connected(source: MqttSource, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not source.stats.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    return source.stats.connected
