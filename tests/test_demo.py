import subprocess
import sys

from tests.services import free_port


def test_demo_runs_end_to_end_on_the_embedded_store(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "prognos.cli", "demo", "--duration", "3", "--devices", "3",
         "--store", f"duckdb:///{tmp_path}/demo.duckdb", "--port", str(free_port())],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "pump-000" in out.stdout and "motor-001" in out.stdout and "fan-002" in out.stdout
    assert "ground truth:" in out.stdout
    listed = subprocess.run([sys.executable, "-m", "prognos.cli", "devices", "list", "--store",
                             f"duckdb:///{tmp_path}/demo.duckdb"], capture_output=True, text=True)  # fmt: skip
    assert "3 devices" in listed.stdout and "pump" in listed.stdout


def test_demo_on_a_taken_port_says_so(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "prognos.cli",
                "demo",
                "--duration",
                "1",
                "--port",
                str(port),
                "--store",
                f"duckdb:///{tmp_path}/d.duckdb",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1 and "port" in out.stderr
