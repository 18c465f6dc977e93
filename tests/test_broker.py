"""The MQTT transport every prognos MQTT user goes through: URLs, credentials and TLS, on a real Mosquitto."""

from __future__ import annotations

import gc
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

import pytest

from prognos.broker import Broker, Session, delivered, stop
from prognos.errors import BrokerUnavailable, ConfigError
from tests.services import Mosquitto, listener


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("mqtt://broker", ("broker", 1883, False, None, None, None)),
        ("tcp://10.0.0.2:1884", ("10.0.0.2", 1884, False, None, None, None)),
        ("mqtts://broker", ("broker", 8883, True, None, None, None)),
        (
            "mqtts://dev%40site:p%3Ass@broker:9883?ca=/etc/ca.pem",
            ("broker", 9883, True, "dev@site", "p:ss", "/etc/ca.pem"),
        ),
        ("mqtt://TOKEN123@broker", ("broker", 1883, False, "TOKEN123", None, None)),
    ],
)
def test_urls_name_the_broker_its_security_and_credentials(url, want):
    b = Broker.parse(url)
    assert (b.host, b.port, b.tls, b.username, b.password, b.ca) == want
    assert "p:ss" not in b.url and "p%3Ass" not in b.url and "password" not in repr(b)


@pytest.mark.parametrize("bad", ["http://broker", "mqtt://", "broker:1883", "mqtt://broker:port"])
def test_a_bad_url_is_refused_with_the_forms_expected(bad):
    with pytest.raises(ConfigError, match="MQTT URL"):
        Broker.parse(bad)


def test_an_unreachable_broker_is_said_at_once_when_waited_for():
    with pytest.raises(BrokerUnavailable, match=r"cannot reach mqtt://127\.0\.0\.1:1\b"):
        b = Broker.parse("mqtt://127.0.0.1:1")
        b.start(b.client("nobody"), wait=True)


def certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 signed by it (what a plant's own PKI would issue)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "s.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "s.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    )
    return folder / "ca.crt"


def test_credentials_and_tls_reach_a_broker_that_demands_both():
    tmp_path = Path(tempfile.mkdtemp(prefix="prognos-tls-"))  # Mosquitto drops root for its own user: readable by it
    ca = certificates(tmp_path)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tmp_path / "passwd"), "ingest", "s3cret"], check=True)
    for f in [tmp_path, *tmp_path.iterdir()]:
        f.chmod(0o755 if f.is_dir() else 0o644)
    broker = Mosquitto(
        listener=f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}\ncafile {ca}\n"
        f"certfile {tmp_path / 'server.crt'}\nkeyfile {tmp_path / 'server.key'}"
    ).start()
    secure = f"mqtts://ingest:s3cret@127.0.0.1:{broker.port}?ca={ca}"
    try:
        got: list[bytes] = []
        sub = listener(secure, ["t/#"], "sub", lambda c, u, m: got.append(m.payload))
        b = Broker.parse(secure)
        session = Session(keepalive=30)
        pub = b.client("pub", session)
        b.start(pub, session, wait=True)
        delivered(pub.publish("t/1", b"hello", qos=1), 10, "t/1")
        stop(pub)

        refused = threading.Event()
        wrong = Broker.parse(f"mqtts://ingest:wrong@127.0.0.1:{broker.port}?ca={ca}")
        intruder = wrong.client("intruder")

        reasons: list = []
        intruder.on_connect = lambda client, userdata, flags, reason, properties: reasons.append(reason)
        intruder.on_disconnect = lambda *_: reasons and refused.set()  # the broker hung up on it: no socket open
        wrong.start(intruder)
        assert refused.wait(10) and reasons[0].is_failure  # the broker said no to the wrong password
        intruder.loop_stop()
        untrusting = Broker.parse(f"mqtts://ingest:s3cret@127.0.0.1:{broker.port}")  # not told of the plant's CA
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # paho leaves a failed handshake's socket to the collector
            try:
                untrusting.start(untrusting.client("no-ca"), wait=True)
                failed = ""
            except BrokerUnavailable as exc:
                failed = str(exc)
            gc.collect()
        assert "certificate verify failed" in failed
        for _ in range(200):
            if got:
                break
            time.sleep(0.05)
        assert got == [b"hello"]
        stop(sub)
    finally:
        broker.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
