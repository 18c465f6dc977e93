import subprocess
import sys


def test_import_prognos_pulls_no_heavy_or_server_library():
    code = (
        "import sys, prognos, prognos.types, prognos.errors, prognos.config, prognos.store, prognos.ingest; "
        "bad = [m for m in ('torch', 'duckdb', 'starlette', 'uvicorn', 'paho', 'psycopg', 'onnxruntime') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_cli_help_lists_every_command_with_a_description():
    out = subprocess.run([sys.executable, "-m", "prognos.cli", "--help"], capture_output=True, text=True).stdout
    for command in (
        "serve",
        "import",
        "simulate",
        "devices",
        "query",
        "retain",
        "demo",
        "train",
        "evaluate",
        "models",
        "alerts",
    ):
        line = next((x for x in out.splitlines() if x.strip().startswith(command + " ")), "")
        assert len(line.split()) > 1, f"{command} has no description in --help"


def test_the_server_and_inference_path_never_import_torch():
    code = (
        "import sys, prognos.server.app, prognos.inference.runtime, prognos.inference.deployments, prognos.server.oip; "
        "print(','.join(m for m in ('torch', 'sklearn', 'optuna', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
