"""The MQTT transport: how every prognos MQTT user reaches the broker — ingest, the stream bus and its workers,
device commands, the simulator — so the URL, the session, TLS and credentials are decided in one place.

    mqtt://host[:port]            TCP, port 1883 unless given
    mqtts://host[:port]           TLS, port 8883 unless given; the system's CA certificates, or ``?ca=/path/ca.pem``
    mqtt://user:password@host     credentials (ThingsBoard devices send their access token as the user name)

Clients speak MQTT 5 (paho's callback API 2) and reconnect with back-off (1–30 s) while the broker is away.
A `Session` is clean by default; with an ``expiry`` it is persistent: the broker keeps the client's
subscriptions and queues its QoS 1 messages while it is away, and hands them over when it returns.

>>> b = Broker.parse("mqtts://ingest:secret@broker.local")
>>> b.host, b.port, b.tls, b.username, b.url
('broker.local', 8883, True, 'ingest', 'mqtts://ingest@broker.local:8883')
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prognos.errors import BrokerUnavailable, ConfigError, require

PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}


def unique_client_id(role: str) -> str:
    """A client id no other process shares (``prognos-<role>-<host>-<pid>-<random>``): two processes with one id
    take the broker's session from each other, each connect throwing the other off."""
    return f"prognos-{role}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Session:
    """How a client's session with the broker lives, and how it takes and sends messages."""

    expiry: int | None = None  # persistent: seconds the broker keeps the session after a disconnect (None: clean)
    manual_ack: bool = False  # each received message acknowledged by hand (once what it carries is durable)
    receive_maximum: int | None = None  # unacknowledged messages the broker may have in flight to us
    inflight: int | None = None  # our own unacknowledged publishes at once (paho's default: 20)
    keepalive: int = 15


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca: str | None = None  # CA certificates to verify the broker by (None: the system's)

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in PORTS or not parts.hostname:
            raise ConfigError(f"MQTT URL {url!r}: expected mqtt://host[:port] (mqtts:// for TLS, user:password@host)")
        try:
            port = parts.port or PORTS[parts.scheme]
        except ValueError:
            raise ConfigError(f"MQTT URL {url!r}: the port is not a number") from None
        ca = parse_qs(parts.query).get("ca", [None])[-1]
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, port, PORTS[parts.scheme] == 8883, user, password, ca)

    @property
    def url(self) -> str:
        """The broker's URL for messages and health output: never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def client(self, client_id: str, session: Session = Session()) -> Any:
        """A paho client for this broker, configured and not yet connected (set its callbacks, then `start`)."""
        mqtt = require("paho.mqtt.client", "mqtt")
        from paho.mqtt.enums import CallbackAPIVersion  # paho is an extra: loaded with the client

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=session.manual_ack
        )
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set(ca_certs=self.ca)
        if session.inflight is not None:
            client.max_inflight_messages_set(session.inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=30)  # back-off while the broker is away
        return client

    def start(self, client: Any, session: Session = Session(), wait: bool = False) -> None:
        """Connect (``wait``: before returning, raising `BrokerUnavailable` if the broker cannot be reached; else in
        the background, retried until it can) and run the client's network thread."""
        from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        if session.expiry is not None:
            props.SessionExpiryInterval = session.expiry
        if session.receive_maximum is not None:
            props.ReceiveMaximum = session.receive_maximum
        clean = MQTT_CLEAN_START_FIRST_ONLY if session.expiry is None else False  # persistent: resume the session
        if wait:
            try:
                client.connect(self.host, self.port, session.keepalive, clean_start=clean, properties=props)
            except OSError as exc:
                raise BrokerUnavailable(f"cannot reach {self.url}: {exc}") from None
        else:
            client.connect_async(self.host, self.port, session.keepalive, clean_start=clean, properties=props)
        client.loop_start()


def subscribe(client: Any, topics: Sequence[str], qos: int = 1) -> None:
    """Subscribe to ``topics`` (from ``on_connect``: a reconnect renews the subscriptions)."""
    from paho.mqtt.subscribeoptions import SubscribeOptions

    client.subscribe([(t, SubscribeOptions(qos=qos)) for t in topics])


def delivered(info: Any, timeout: float, where: str) -> None:
    """Wait for a QoS 1 publish to be acknowledged by the broker, or raise `BrokerUnavailable` saying why not."""
    try:
        info.wait_for_publish(max(0.0, timeout))
    except (RuntimeError, ValueError) as exc:  # not connected, or the queue refused it
        raise BrokerUnavailable(f"{where}: {exc}") from None
    if not info.is_published():
        raise BrokerUnavailable(f"{where}: no acknowledgement in {timeout:g} s")


def stop(client: Any) -> None:
    """Disconnect and stop the network thread."""
    client.disconnect()
    client.loop_stop()
