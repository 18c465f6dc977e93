"""The ``prognos`` command: thin commands over the library. Errors become messages and exit codes here.

A command parses its options, calls one library function and prints what it returned. The serving, training
and demo commands load their stacks (Starlette and ONNX Runtime, torch) when they run, so the others — and
``prognos --help`` — start in a moment.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from prognos import __version__
from prognos.act.alerts import Alerts
from prognos.config import Settings
from prognos.errors import ConfigError, InvalidInput, MissingExtra, PrognosError, require
from prognos.evaluate.report import Run, write_report
from prognos.ingest import files
from prognos.registry import Registry
from prognos.sim import Fleet, send
from prognos.store import Agg, Store, open_store
from prognos.types import Reading, now_ms, parse_duration, parse_time, to_iso

STORE = click.option(
    "--store",
    envvar="PROGNOS_STORE",
    default=None,
    help="Store URL: duckdb:///PATH (default duckdb:///prognos-data/prognos.duckdb) or postgresql://…",
)
RETYPE = click.option(
    "--retype-interval", type=float, default=None, help="Seconds between re-reads of every device's type (default 30)."
)
BUDGET = click.option(
    "--alarm-budget",
    default=None,
    help="False alarms a device may raise, e.g. 1/week (default), 2/day: sets every anomaly model's cut.",
)
ADAPT = click.option(
    "--adapt",
    default=None,
    help="How soon a change that stays becomes a device's normal, e.g. 6h (default), 1d; off: training's, fixed.",
)
REGISTRY = click.option(
    "--registry", envvar="PROGNOS_REGISTRY", default=None, help="Folder of published artifacts (prognos-data/models)."
)
API = click.option("--api", default=None, help="Ask a running server (http://HOST:PORT) instead of opening the store.")
DATA = click.option(
    "--data", "data_root", envvar="PROGNOS_DATA", default="../shared/data", show_default=True, help="Benchmark files."
)


def edge(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn prognos errors into a one-line message and an exit code (2 for bad input, 1 otherwise)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (InvalidInput, ConfigError) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except (MissingExtra, PrognosError) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prognos")
@click.option("--log-level", default="INFO", envvar="PROGNOS_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR.")
def main(log_level: str) -> None:
    """prognos: IoT telemetry in, decisions out."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the output


# -- serving ----------------------------------------------------------------------------------------------
@main.command()
@STORE
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8600).")
@click.option("--mqtt", default=None, help="Also ingest from this broker: mqtt://HOST:PORT (mqtts:// for TLS).")
@click.option("--mqtt-client-id", default=None, help="Stable MQTT client id (the broker keeps the session by it).")
@click.option("--mqtt-group", default=None, help="Shared subscription group: processes in one group split the load.")
@click.option("--retention-days", type=int, default=None, help="Drop data older than this, checked hourly.")
@click.option("--request-idle", type=float, default=None, help="Seconds a client may stall in a request: 408 (10).")
@REGISTRY
@click.option("--max-batch", type=int, default=None, help="Inference: rows per ONNX Runtime call (default 64).")
@click.option("--max-delay-ms", type=float, default=None, help="Inference: longest wait to fill a batch (default 2).")
@click.option("--max-queue", type=int, default=None, help="Inference: queued requests per model before 503 (1024).")
@click.option("--payload-sample", type=float, default=None, help="Inference: share of requests recorded (default 0).")
@click.option("--stream", default=None, help='Score readings as they arrive: models per device type, "pump=a,b;*=c".')
@click.option("--rules", default=None, type=click.Path(dir_okay=False), help="Alert rules file (YAML) for --stream.")
@click.option(
    "--partitions",
    type=int,
    default=None,
    help="Forward committed readings on the stream bus (prognos/stream/0..N-1) for prognos stream workers.",
)
@RETYPE
@BUDGET
@ADAPT
@edge
def serve(**options: Any) -> None:
    """Run the server: HTTP API, ingestion (MQTT with --mqtt) and inference (Open Inference Protocol v2) for the
    registry's models."""
    from prognos.server.run import run  # the serving stack: Starlette, uvicorn, ONNX Runtime

    run(Settings.from_env(**options))


@main.command()
@STORE
@REGISTRY
@click.option("--mqtt", default=None, help="The broker carrying the stream bus: mqtt://HOST:PORT.")
@click.option("--partitions", type=int, default=None, help="Partitions of the stream bus (as prognos serve uses).")
@click.option("--worker", default=None, help="INDEX/COUNT: this worker owns partitions p with p %% COUNT == INDEX.")
@click.option("--stream", default=None, help='Models per device type, "pump=a,b;*=c".')
@click.option("--rules", default=None, type=click.Path(dir_okay=False), help="Alert rules file (YAML).")
@click.option(
    "--mqtt-group", default=None, help="Also ingest device telemetry through this MQTT 5 shared subscription group."
)
@click.option("--mqtt-client-id", default=None, help="Ingest: stable MQTT client id (one per worker).")
@click.option("--group", "stream_group", default=None, help="Names this deployment's bus sessions and checkpoints.")
@click.option("--checkpoint-interval", type=float, default=None, help="Seconds between checkpoints (default 1).")
@RETYPE
@BUDGET
@ADAPT
@click.option("--host", default=None, help="Health and metrics: address (default 127.0.0.1).")
@click.option(
    "--port", type=int, default=8601, show_default=True, envvar="PROGNOS_STREAM_PORT", help="Health and metrics: port."
)
@edge
def stream(**options: Any) -> None:
    """Run a scoring worker: its share of the stream bus → windows → models → rules → alerts and actions.

    Readings reach the bus from prognos serve --partitions N (or from workers given --mqtt-group);
    each device is scored by exactly one worker, and a worker restarted resumes from its checkpoint.
    """
    from prognos.server.run import run  # the serving stack: Starlette, uvicorn, ONNX Runtime

    run(Settings.from_env(**options), worker=True)


# -- data -------------------------------------------------------------------------------------------------
def mapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say how a file's columns map to readings (`files.Mapping`), for import and score."""
    for option in reversed(
        [
            click.option("--device-column", default=None, help="Column holding the device id."),
            click.option("--device", default=None, help="One device id for every row (instead of --device-column)."),
            click.option("--ts-column", default=None, help="Timestamp column (default: ts, timestamp, time, …)."),
            click.option("--ts-format", default="ms", show_default=True, help="ms, s, us, iso, or a strftime pattern."),
            click.option("--columns", default=None, help="Comma-separated value columns (default: every numeric one)."),
            click.option("--attribute-columns", default="", help="Comma-separated string state columns (e.g. mode)."),
            click.option("--lat-column", default=None),
            click.option("--lon-column", default=None),
        ]
    ):
        fn = option(fn)
    return fn


def _mapping(o: dict[str, Any]) -> files.Mapping:
    mapping = files.Mapping(
        o.pop("device_column"),
        o.pop("device"),
        o.pop("ts_column"),
        o.pop("ts_format"),
        _split(o.pop("columns")),
        _split(o.pop("attribute_columns")) or (),
        o.pop("lat_column"),
        o.pop("lon_column"),
    )
    mapping.check()
    return mapping


def _read(file: Path, mapping: files.Mapping, write: Callable[[list[Any]], Any], verb: str) -> files.ImportSummary:
    """``file``'s readings to ``write`` batch by batch, with a progress bar."""
    _, total = files.batches(file) if file.exists() else (None, 0)
    unit = "rows" if file.suffix.lower() in (".parquet", ".pq") else "B"
    with tqdm(total=total, unit=unit, unit_scale=True, desc=f"{verb} {file.name}", file=sys.stderr) as bar:
        return files.import_file(file, mapping, write, bar.update)


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@STORE
@mapped
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@edge
def import_(file: Path, store: str | None, as_json: bool, **o: Any) -> None:
    """Import a CSV or Parquet file into the store."""
    mapping = _mapping(o)
    with _store(store) as st:
        summary = _read(file, mapping, st.write, "import")
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=1))
        return
    click.echo(
        f"{summary.rows} rows read: {summary.readings} readings ({summary.values} values) stored; "
        f"{summary.rejected_rows} rows and {summary.rejected_values} values rejected"
    )
    for reason, count in summary.reasons.most_common():
        click.echo(f"  {count:>8}  {reason}  (rows {', '.join(map(str, summary.examples[reason]))})")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "models", multiple=True, required=True, help="A model to score with (its champion); repeat.")
@click.option("--out", default="-", show_default=True, help="Where the rows go: a .csv or .parquet file, - for stdout.")
@STORE
@REGISTRY
@BUDGET
@ADAPT
@mapped
@edge
def score(file: Path, models: tuple[str, ...], out: str, store: str | None, registry: str | None, **o: Any) -> None:
    """Score a CSV or Parquet recording offline as the stream would: one row per window, with the decision.

    Causal: each window's verdict uses the readings up to its end only. Nothing is written to the store."""
    from prognos.stream import offline  # ONNX Runtime: only when scoring

    _writable(out)
    mapping, readings = _mapping(o), list[Reading]()
    summary = _read(file, mapping, readings.extend, "read")
    bar = tqdm(total=len(readings), unit="readings", unit_scale=True, desc="score", file=sys.stderr)
    with _registry(store, registry) as reg, bar:
        rows = offline.score(readings, reg, models, bar.update, budget=o.pop("alarm_budget"), adapt=o.pop("adapt"))
    _write_table(rows, out)
    alarms = sum(bool(a) for a in rows.column("alarm").to_pylist()) if "alarm" in rows.column_names else 0
    click.echo(
        f"{summary.readings} readings of {summary.rows} rows: {rows.num_rows} windows scored "
        f"({len(set(rows.column('device_id').to_pylist())) if rows.num_rows else 0} devices), {alarms} alarms",
        err=True,
    )


def _write_table(rows: Any, out: str) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if out == "-":
        buffer = io.BytesIO()
        pacsv.write_csv(rows, buffer)
        click.echo(buffer.getvalue().decode(), nl=False)
        return
    try:
        (pq.write_table if out.endswith((".parquet", ".pq")) else pacsv.write_csv)(rows, out)
    except OSError as exc:
        raise InvalidInput(f"--out {out}: cannot write it ({exc})", field="out", value=out) from None


def _writable(out: str) -> None:
    """Refuse an --out nobody can write before the work, not after it."""
    if out != "-" and not Path(out).resolve().parent.is_dir():
        raise InvalidInput(f"--out {out}: no such folder {Path(out).resolve().parent}", field="out", value=out)


@main.command()
@click.option("--devices", type=int, default=10, show_default=True)
@click.option("--rate", type=float, default=1.0, show_default=True, help="Readings per second per device.")
@click.option("--duration", type=float, default=60.0, show_default=True, help="Seconds of simulated time.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--target", required=True, help="http://HOST:PORT, mqtt://HOST:PORT or FILE.parquet")
@click.option("--start", default=None, help="Start time (ISO or epoch ms); default now (files: now - duration).")
@click.option("--fast", is_flag=True, help="Send as fast as the target takes it, not in real time.")
@edge
def simulate(devices: int, rate: float, duration: float, seed: int, target: str, start: str | None, fast: bool) -> None:
    """Simulate a fleet of machines with faults and wear.

    Pumps, motors and fans with correlated sensors, operating regimes, injected faults (spike, drift,
    stuck sensor, rising vibration, overheating) and wear to failure. File output gets the ground
    truth beside it as NAME.truth.json.
    """
    if devices < 1 or rate <= 0 or duration <= 0:
        raise InvalidInput("--devices, --rate and --duration must be positive", field="devices")
    dest = send.open_target(target)
    before = int(duration * 1000) if isinstance(dest, Path) else 0  # a file holds the past, a target the present
    fleet = Fleet(
        devices, rate, duration, seed=seed, start=parse_time(start, field="start") if start else now_ms() - before
    )
    with tqdm(total=fleet.samples * devices, unit="readings", unit_scale=True, desc="simulate", file=sys.stderr) as bar:
        if isinstance(dest, Path):
            send.write_parquet(fleet, dest, bar.update)
            click.echo(f"wrote {dest} and {send.truth_path(dest)}")
        else:
            n = send.run(fleet, dest, realtime=not fast, progress=bar.update)
            click.echo(f"sent {n} readings from {devices} devices to {target}")


@main.group()
def devices() -> None:
    """The device registry."""


@devices.command("list")
@STORE
@API
@click.option("--json", "as_json", is_flag=True)
@edge
def devices_list(store: str | None, api: str | None, as_json: bool) -> None:
    """List registered devices with type, first and last seen."""
    if api:
        rows = _api_call("GET", api, "/api/v1/devices")["devices"]
    else:
        with _store(store) as st:
            rows = [d.as_dict() for d in st.devices()]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    click.echo(f"{'DEVICE':<24} {'TYPE':<10} {'FIRST SEEN':<25} LAST SEEN")
    for d in rows:
        click.echo(f"{d['device_id']:<24} {d['type'] or '-':<10} {d['first_seen'] or '-':<25} {d['last_seen'] or '-'}")
    click.echo(f"{len(rows)} devices")


@main.command()
@click.argument("device_id")
@STORE
@click.option("--keys", default=None, help="Comma-separated keys (default all).")
@click.option("--start", default=None, help="ISO time or epoch ms (default: end - 1 day).")
@click.option("--end", default=None, help="ISO time or epoch ms (default: now).")
@click.option("--interval", default=None, help="Bucket size (e.g. 1m) to downsample.")
@click.option("--agg", default="avg", show_default=True, help="avg, min, max or last.")
@edge
def query(device_id: str, store: str | None, keys: str | None, start: str | None, **o: Any) -> None:
    """Print a device's stored telemetry as CSV."""
    t1 = parse_time(o["end"], field="end") if o["end"] else now_ms()
    t0 = parse_time(start, field="start") if start else t1 - 86_400_000
    wanted = _split(keys)
    with _store(store) as st:
        if o["interval"]:
            wanted = wanted or sorted(set(st.latest([device_id]).column("key").to_pylist()))
            table = st.downsample(device_id, wanted, t0, t1, parse_duration(o["interval"]), Agg.parse(o["agg"]))
        else:
            table = st.read(device_id, t0, t1, wanted)
    click.echo("time,key,value")
    for ts, key, value in zip(*table.to_pydict().values(), strict=True):
        click.echo(f"{to_iso(ts)},{key},{value}")


@main.command()
@STORE
@click.option("--days", type=float, required=True, help="Drop data older than this many days.")
@edge
def retain(store: str | None, days: float) -> None:
    """Drop stored data older than N days."""
    if days <= 0:
        raise InvalidInput(f"--days must be positive, got {days}", field="days", value=days)
    with _store(store) as st:
        n = st.retain(now_ms() - int(days * 86_400_000))
    click.echo(f"dropped {n} rows older than {days} days")


# -- learning ---------------------------------------------------------------------------------------------
@main.command()
@click.option("--task", required=True, help="anomaly, rul or classify.")
@click.option(
    "--source",
    required=True,
    help="store (telemetry in the store), or a benchmark: cmapss:FD001 … cmapss:FD004 (rul), skab (anomaly), "
    "ai4i (classify), simulator:pump|motor|fan (anomaly).",
)
@DATA
@STORE
@click.option("--devices", default=None, help="store: comma-separated device ids.")
@click.option("--type", "device_type", default=None, help="store: every device of this type.")
@click.option("--start", default=None, help="store: from (ISO or epoch ms).")
@click.option("--end", default=None, help="store: until (ISO or epoch ms; default now).")
@click.option(
    "--labels",
    type=click.Path(dir_okay=False),
    default=None,
    help="store: simulator truth .json or labels .csv (device_id,start,end,label).",
)
@click.option("--window", type=int, default=60, show_default=True, help="store: window length in grid steps.")
@click.option("--step-ms", type=int, default=1000, show_default=True, help="store: grid step.")
@click.option(
    "--settings",
    default=None,
    help="store: comma-separated inputs that set the operating point (speed set point, load, mode); every sensor "
    "is then scaled within its operating regime, the regimes found from these.",
)
@click.option(
    "--detectors",
    default=None,
    help="store, anomaly: the candidates that compete (conv-ae, pca; default both): each is fitted on all but the "
    "latest fifth of every device's data and judged on it at the alarm budget, and the best is served — the deep "
    "one only if it beats the baseline.",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Artifact folder.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--epochs", type=int, default=None, help="At most this many epochs (early stopping may end sooner).")
@click.option(
    "--init-from",
    type=click.Path(file_okay=False),
    default=None,
    help="store: fine-tune from this artifact folder (e.g. a pretrained model).",
)
@click.option("--trials", type=int, default=0, show_default=True, help="Search hyper-parameters first (Optuna).")
@click.option("--storage", default=None, help="Optuna storage URL shared by several searching processes.")
@click.option("--study", default=None, help="Optuna study name (joins it if it exists in --storage).")
@edge
def train(task: str, source: str, out: Path, store: str | None, **o: Any) -> None:
    """Train a model and write its artifact (ONNX, int8 ONNX, model card)."""
    from prognos import recipes  # torch: only the learning commands load it

    search = recipes.Search(o["trials"], o["storage"], o["study"])
    order = recipes.Order(task, source, out, o["data_root"], o["seed"], o["epochs"], search=search)
    order = replace(order, labels=o["labels"], window=o["window"], step_ms=o["step_ms"], init_from=o["init_from"])
    order = replace(order, settings=tuple(_split(o["settings"]) or ()), detectors=tuple(_split(o["detectors"]) or ()))
    if source == "store":
        if o["start"]:
            end = parse_time(o["end"], field="end") if o["end"] else now_ms()
            start = parse_time(o["start"], field="start")
            selection = recipes.Selection(start, end, _split(o["devices"]), o["device_type"])
            order = replace(order, selection=selection)
        with _store(store) as st:
            path = recipes.train(replace(order, store=st))
    else:
        path = recipes.train(order)
    card = json.loads(path.read_text())
    click.echo(f"{card['name']}: {recipes.figures(card)}; trained in {card['training_seconds']:.1f} s -> {out}")
    contest = (card.get("metrics") or {}).get("contest")
    if contest:
        click.echo(f"  {contest['why']}")
        for e in contest.get("entries", []):
            click.echo(
                f"    {e['name']:8} event F1 {e['event_f1']:.3f} ({e['events']:.0f} events), "
                f"{e['false_alarms_per_device_day']:.2f} false alarms per device-day, alarm on {e['alarm_share']:.1%}"
            )
    scaler = card.get("scaler") or {}
    if scaler.get("columns"):
        settings = ", ".join(card["input"]["sensors"][i] for i in scaler["columns"])
        click.echo(f"  every sensor scaled within {scaler['regimes']} operating regime(s) found from {settings}")
    cut = (card.get("output") or {}).get("calibration")
    if cut:
        fallback = f" (not {cut['asked']}: {cut['fallback']})" if cut["fallback"] else ""
        click.echo(
            f"  alarm threshold {card['output']['threshold']:.4g}: {cut['method']} of {cut['windows']} normal "
            f"windows at a risk of {cut['risk']:g} per window{fallback}"
        )
    if (card.get("output") or {}).get("normal"):
        click.echo(f"  {_budget_cut(card['output'])}")


def _budget_cut(output: dict[str, Any]) -> str:
    """Where the default alarm budget cuts this model's scores, and how its normal tail was measured."""
    from prognos.features.calibration import DEFAULT_BUDGET, Budget, Normal

    ref, budget = Normal.from_dict(output["normal"]), Budget.parse(DEFAULT_BUDGET)
    risk = budget.risk(int(output.get("step_ms") or 1000))
    tail = f"{ref.method} tail (shape {ref.tail.shape:.2f})" + (f" — {ref.fallback}" if ref.fallback else "")
    return (
        f"at an alarm budget of {budget.text} ({risk:.3g} per window) the stream alarms from score "
        f"{ref.cut(risk):.4g}: {tail} of {ref.windows} held-out normal windows, typical score {ref.typical:.4g}"
    )


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("pretrained"), show_default=True)
@click.option("--only", default=None, help="Comma-separated subset of: turbofan-rul, pump-anomaly.")
@DATA
@click.option("--epochs", type=int, default=None, help="At most this many epochs per model.")
@edge
def pretrained(out: Path, only: str | None, data_root: str, epochs: int | None) -> None:
    """Rebuild the pretrained starting points (fixed seeds) for fine-tuning with train --init-from."""
    from prognos import recipes  # torch: only the learning commands load it

    names = only.split(",") if only else list(recipes.PRETRAINED)
    unknown = sorted(set(names) - set(recipes.PRETRAINED))
    if unknown:
        available = ", ".join(recipes.PRETRAINED)
        raise InvalidInput(f"unknown pretrained model {unknown[0]!r}: available: {available}", field="only")
    for card in recipes.pretrained(out, data_root, names, epochs):
        click.echo(f"{card.parent.name}: {card.parent}")


@main.command()
@click.option("--benchmark", default="cmapss", show_default=True, help="cmapss, skab, ai4i, simulator or univariate.")
@click.option("--subsets", default="FD001,FD002,FD003,FD004", show_default=True, help="C-MAPSS subsets.")
@click.option("--seeds", type=int, default=3, show_default=True, help="Figures are medians over this many seeds.")
@DATA
@click.option("--report", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
@click.option("--epochs", type=int, default=None, help="At most this many epochs per model.")
@edge
def evaluate(benchmark: str, subsets: str, seeds: int, data_root: str, report: Path, epochs: int | None) -> None:
    """Score models under a published protocol, beside the best published results."""
    from prognos.evaluate import benchmarks  # torch: only the learning commands load it

    known = benchmarks()
    if benchmark not in known:
        available = ", ".join(known)
        raise InvalidInput(f"unknown benchmark {benchmark!r}: available: {available}", field="benchmark")
    subset = [s.strip().upper() for s in subsets.split(",")]
    rows = known[benchmark].rows(Run(data_root, seeds, True, epochs, subset))
    click.echo(known[benchmark].markdown(rows))
    js, md = write_report(known[benchmark], rows, report)
    click.echo(f"reports: {js} {md}")


# -- the demo ---------------------------------------------------------------------------------------------
@main.command()
@click.option("--store", default=None, help="Store URL (default: a fresh embedded store in prognos-data/demo).")
@click.option("--devices", type=int, default=12, show_default=True, help="Simulated machines (pumps, motors, fans).")
@click.option("--duration", type=float, default=120.0, show_default=True, help="Seconds of live streaming.")
@click.option("--history", type=float, default=2.0, show_default=True, help="Hours of past telemetry to train on.")
@click.option("--epochs", type=int, default=40, show_default=True, help="At most this many epochs per model.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--port", type=int, default=8600, show_default=True)
@click.option("--keep-serving", is_flag=True, help="After the live window, keep the server up until Ctrl-C.")
@edge
def demo(store: str | None, port: int, **options: Any) -> None:
    """The whole loop in one command, nothing to install: simulate a fleet with faults and wear, store its
    history, train anomaly, fault and remaining-life models on it, publish and serve them, score the live
    stream, raise and act on alerts, and score those against the simulator's ground truth.

    Ctrl-C ends it cleanly (with the summary so far).
    """
    from prognos.demo import Demo, run_demo  # the server and torch: the demo trains and serves

    run_demo(Settings.from_env(port=port), store, Demo(**options))


# -- the model registry -----------------------------------------------------------------------------------
@main.group()
def models() -> None:
    """The model registry: publish, list, show, promote, rollback, archive, traffic.

    Against the embedded store a running server holds the database: use its /api/v1/models API then.
    """


def on_registry(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """A ``prognos models NAME`` command handed the registry that --store and --registry open."""

    def command(fn: Callable[..., None]) -> click.Command:
        @functools.wraps(fn)
        def run(store: str | None, registry: str | None, **args: Any) -> None:
            with _registry(store, registry) as reg:
                fn(reg, **args)

        return models.command(name)(STORE(REGISTRY(edge(run))))

    return command


@on_registry("publish")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--name", default=None, help="Model name (default: the card's name). Required for a bare .onnx.")
@click.option("--task", default=None, help="Bare .onnx: the task it does (default custom).")
@click.option("--sensors", default=None, help="Bare .onnx: comma-separated input sensor order.")
@click.option("--promote", "alias", default=None, help="Also point this alias (e.g. champion) at the new version.")
def models_publish(reg: Registry, source: Path, name: str | None, alias: str | None, **o: Any) -> None:
    """Publish an artifact folder (prognos train --out) or any ONNX file as the next immutable version."""
    io = {k: v for k, v in {"task": o["task"], "sensors": _split(o["sensors"])}.items() if v}
    v = reg.publish(source, name, io)
    if alias:
        v = reg.promote(v.name, v.version, alias)
    click.echo(f"published {v.name} v{v.version}" + (f" as {alias}" if alias else "") + f" → {v.path}")


@on_registry("list")
@click.option("--json", "as_json", is_flag=True)
def models_list(reg: Registry, as_json: bool) -> None:
    """Every model with its versions and aliases."""
    rows: list[dict[str, Any]] = [
        {"name": n, "versions": [v.version for v in reg.versions(n)], "aliases": reg.aliases(n)} for n in reg.names()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(r["aliases"].items())) or "no aliases"
        click.echo(f"{r['name']}: versions {', '.join(map(str, r['versions']))}; {aliases}")


@on_registry("show")
@click.argument("name")
@click.option("--version", "ref", default=None, help="A version number or an alias (default champion).")
def models_show(reg: Registry, name: str, ref: str | None) -> None:
    """A version's record and model card, as JSON."""
    v = reg.get(name, ref) if ref or "champion" in reg.aliases(name) else reg.versions(name)[-1]
    click.echo(json.dumps(v.to_dict(), indent=1))


@on_registry("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--alias", default="champion", show_default=True)
def models_promote(reg: Registry, name: str, version: int, alias: str) -> None:
    """Point an alias at a version."""
    v = reg.promote(name, version, alias)
    click.echo(f"{name}@{alias} → v{v.version}")


@on_registry("rollback")
@click.argument("name")
@click.option("--alias", default="champion", show_default=True)
def models_rollback(reg: Registry, name: str, alias: str) -> None:
    """Move an alias back to the version it pointed at before."""
    v = reg.rollback(name, alias)
    click.echo(f"{name}@{alias} → v{v.version}")


@on_registry("archive")
@click.argument("name")
@click.argument("version", type=int)
def models_archive(reg: Registry, name: str, version: int) -> None:
    """Mark a version archived: kept, listed, never promoted again."""
    v = reg.archive(name, version)
    click.echo(f"archived {v.name} v{v.version}")


@on_registry("traffic")
@click.argument("name")
@click.option("--canary", default=None, help="Alias that takes a share of the devices (e.g. challenger).")
@click.option("--weight", type=float, default=0.0, show_default=True, help="Share of devices on the canary, 0-1.")
@click.option("--shadow", default=None, help="Alias that runs on a copy of all traffic, outputs recorded only.")
def models_traffic(reg: Registry, name: str, canary: str | None, weight: float, shadow: str | None) -> None:
    """Set who besides the champion answers: a sticky canary share per device, a shadow. No options: champion only."""
    doc = reg.set_traffic(name, canary, weight, shadow)
    click.echo(f"{name}: canary {doc['canary'] or '-'} at {doc['weight']:.0%}, shadow {doc['shadow'] or '-'}")


# -- alerts -----------------------------------------------------------------------------------------------
@main.group()
def alerts() -> None:
    """Alerts raised by the rules: list, acknowledge, resolve."""


@alerts.command("list")
@click.option("--state", default=None, help="open, acknowledged or resolved.")
@click.option("--device", default=None, help="Only this device's alerts.")
@STORE
@API
@click.option("--json", "as_json", is_flag=True)
@edge
def alerts_list(state: str | None, device: str | None, store: str | None, api: str | None, as_json: bool) -> None:
    """Alerts, newest first."""
    if api:
        query = "&".join(f"{k}={v}" for k, v in (("state", state), ("device_id", device)) if v)
        rows = _api_call("GET", api, f"/api/v1/alerts?{query}")["alerts"]
    else:
        with _store(store) as st:
            rows = [a.to_dict() for a in Alerts(st).list(state, device)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for a in rows:
        click.echo(f"{a['id']}  {a['state']:<12} {a['severity']:<8} {a['rule']:<20} {a['device_id']}")
    click.echo(f"{len(rows)} alerts")


def _alert_change(name: str, verb: str, text: str) -> click.Command:
    """``prognos alerts NAME ID --by WHO``: the alert's state changed by ``Alerts.<verb>``, here or on --api."""

    @alerts.command(name, help=text)
    @click.argument("alert_id")
    @click.option("--by", required=True, help="Who does it (kept on the alert).")
    @click.option("--note", default=None)
    @STORE
    @API
    @edge
    def change(alert_id: str, by: str, note: str | None, store: str | None, api: str | None) -> None:
        if api:
            doc = _api_call("POST", api, f"/api/v1/alerts/{alert_id}/{verb}", {"by": by, "note": note})
        else:
            with _store(store) as st:
                doc = getattr(Alerts(st), verb)(alert_id, by, note).to_dict()
        click.echo(f"{doc['id']}: {doc['state']}")

    return change


alerts_ack = _alert_change("ack", "acknowledge", "Acknowledge an open alert.")


@alerts.command("resolve")
@click.argument("alert_id")
@click.option("--by", required=True, help="Who does it (kept on the alert).")
@click.option("--note", default=None)
@click.option("--false-alarm", is_flag=True, help="Nothing was wrong: a server scoring the stream learns it.")
@STORE
@API
@edge
def alerts_resolve(
    alert_id: str, by: str, note: str | None, false_alarm: bool, store: str | None, api: str | None
) -> None:
    """Resolve an alert by hand."""
    if api:
        body = {"by": by, "note": note, **({"false_alarm": True} if false_alarm else {})}
        doc = _api_call("POST", api, f"/api/v1/alerts/{alert_id}/resolve", body)
    else:
        with _store(store) as st:
            doc = Alerts(st).resolve(alert_id, by, note, false_alarm).to_dict()
    click.echo(f"{doc['id']}: {doc['state']}{' (a false alarm)' if false_alarm else ''}")


# -- helpers ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _store(url: str | None) -> Iterator[Store]:
    """The store a command names (or the environment's, or the default), closed afterwards."""
    st = open_store(Settings.from_env(store=url).store)
    try:
        yield st
    finally:
        st.close()


@contextlib.contextmanager
def _registry(store: str | None, registry: str | None) -> Iterator[Registry]:
    settings = Settings.from_env(store=store, registry=registry)
    with _store(settings.store) as st:
        yield Registry(st, settings.registry)


def _api_call(method: str, api: str, path: str, body: Any = None) -> Any:
    httpx = require("httpx", "serve")
    try:
        resp = httpx.request(method, api.rstrip("/") + path, json=body, timeout=30)
    except httpx.HTTPError as exc:
        raise PrognosError(f"cannot reach {api}: {exc}") from None
    if resp.status_code >= 400:
        raise PrognosError(f"{api}{path} answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


if __name__ == "__main__":
    main()
