"""`prognos demo`, the README's main command, end to end in a subprocess: short, small, but every stage."""

import json
import os
import signal
import subprocess
import sys
import time

from tests.services import free_port


def demo(tmp_path, *args):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prognos.cli",
            "--log-level",
            "WARNING",
            "demo",
            "--devices",
            "6",
            "--history",
            "1",
            "--epochs",
            "2",
            "--port",
            str(free_port()),
            *args,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_as_in_a_terminal,
    )


def _as_in_a_terminal() -> None:
    """Ctrl-C reaches the demo as in a terminal, however the suite was started: a shell that starts a job in the
    background (``make test &``, CI runners) ignores SIGINT for it, and the children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_demo_runs_the_whole_loop_on_the_embedded_store(tmp_path):
    out, err = demo(tmp_path, "--duration", "15").communicate(timeout=600)
    assert "serving on http://127.0.0.1:" in out and "/api/v1/alerts" in out, err
    assert "dashboard http://127.0.0.1:" in out
    for kind in ("pump", "motor", "fan"):
        assert f"{kind}-anomaly v1" in out and f"{kind}-classify v1" in out and f"{kind}-rul v1" in out
    assert "summary of 1" in out and "faults caught" in out and "webhooks received" in out
    assert ", 0 badly signed" in out  # the desk checks every webhook's signature and timestamp
    assert "history" in err and "live" in err  # the progress bars
    folder = tmp_path / "prognos-data" / "demo"
    truth = json.loads((folder / "history.truth.json").read_text())
    assert truth["faults"] and all(f["start"] < truth["end"] for f in truth["faults"])  # trained on the past only
    from prognos.store import open_store

    store = open_store(f"duckdb:///{folder}/prognos.duckdb")  # the demo has ended: the file is free again
    try:
        assert len(store.devices()) == 6
        latest = store.latest().to_pylist()
        scored = {r["device_id"] for r in latest if r["key"] == "pred.pump-anomaly.anomaly.score"}
        assert scored == {"pump-003"}  # the pump alive in the live window was scored; the failed one is silent
        assert {r["key"] for r in latest if r["device_id"] == "motor-004"} >= {
            "pred.motor-anomaly.anomaly.ratio",
            "pred.motor-classify.classify.prob",
            "pred.motor-rul.rul.p50",
        }
    finally:
        store.close()


def test_ctrl_c_ends_the_demo_cleanly_with_its_summary(tmp_path):
    proc = demo(tmp_path, "--duration", "300")
    deadline = time.monotonic() + 300
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("serving on"):
            break
    time.sleep(4)  # a few live seconds
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted: stopping cleanly" in out and "summary of" in out and "Traceback" not in err


def test_the_demo_refuses_a_fleet_too_small_to_tell_its_story(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "prognos.cli", "demo", "--devices", "2"], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2 and "--devices must be at least 3" in out.stderr


def test_demo_on_a_taken_port_says_so(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "prognos.cli", "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert out.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in out.stderr
    assert not (tmp_path / "prognos-data" / "demo" / "models").exists()  # refused before any work
