"""prognos beside the servers a user would otherwise pick: same ONNX model, same request, one core each.

Runs the peer harness (../shared/bench/serving: the seed's Flask design, BentoML, Ray Serve, and the
bare ASGI + ONNX Runtime limit) with prognos added as an Open Inference Protocol v2 server, all in one
run inside a loopback-only network namespace, server on CPU 0 and wrk on CPU 1. prognos serves the
harness's model.onnx from its registry (champion alias), with adaptive batching, metrics and request
logs on, as deployed. Prints req/s and p50/p99 at each concurrency and the ratios the issue asks for.

    python benchmarks/serving_peers.py [--servers flask_seed,bentoml,rayserve,oip_limit] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from _serving import HARNESS, OUT, in_loopback_namespace, prepare_harness, publish, serve_command

PORT = 8700
GOALS = {"flask_seed": 5.0, "bentoml": 2.0, "rayserve": 2.0, "oip_limit": 0.6}  # prognos ≥ goal × peer at c=64


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--servers", default="flask_seed,bentoml,rayserve,oip_limit")
    p.add_argument("--concurrency", default="1,16,64")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--out", default="serving_peers.md", help="table name under benchmarks/out/")
    args = p.parse_args()
    python = prepare_harness()
    servers = args.servers
    if not in_loopback_namespace():
        print("not root: no loopback-only namespace, so Ray Serve is left out", flush=True)
        servers = ",".join(s for s in servers.split(",") if s != "rayserve")
    OUT.mkdir(exist_ok=True)
    out = OUT / args.out
    with tempfile.TemporaryDirectory(prefix="prognos-serving-") as tmp:
        work = Path(tmp)
        env = publish(work, HARNESS / "model.onnx")
        bench = [
            str(python),
            "bench.py",
            "--servers",
            servers,
            "--oip",
            f"http://127.0.0.1:{PORT}",
            "bench",
            "--concurrency",
            args.concurrency,
            "--duration",
            str(args.duration),
            "--repeat",
            str(args.repeat),
            "--out",
            str(out),
            "--workdir",
            str(work / "raw"),
        ]
        script = "\n".join(
            [
                "set -e",
                "ip link set lo up 2>/dev/null || true",
                serve_command(PORT, work / "prognos.log"),
                "server=$!",
                f'{shlex.quote(sys.executable)} -c \'import sys; sys.path.insert(0, "{Path(__file__).parent}"); '
                f'import _serving; _serving.wait_ready("http://127.0.0.1:{PORT}")\'',
                f"cd {shlex.quote(str(HARNESS))} && BENCH_NETNS=0 {shlex.join(bench)} || status=$?",
                "kill $server; wait $server 2>/dev/null || true",
                "exit ${status:-0}",
            ]
        )
        cmd = ["unshare", "-n", "bash", "-c", script] if in_loopback_namespace() else ["bash", "-c", script]
        subprocess.run(cmd, env={**__import__("os").environ, **env}, check=True)
    summary(json.loads(out.with_suffix(".json").read_text())["rows"])
    print(f"\nfull table: {out}")


def summary(rows: list[dict]) -> None:
    """prognos against each peer at each concurrency (medians over rounds), and the goals at c=64."""
    by: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        if "failed" not in r:
            by.setdefault((r["server"], r["concurrency"]), []).append(r)

    def med(server: str, c: int, key: str) -> float | None:
        values = sorted(r[key] for r in by.get((server, c), []))
        return values[len(values) // 2] if values else None

    servers = sorted({s for s, _ in by}, key=lambda s: (s != "oip:bench", s))
    levels = sorted({c for _, c in by})
    print("\n| server | c | req/s | p50 ms | p99 ms | errors | prognos × this |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in servers:
        for c in levels:
            rps, mine = med(s, c, "rps"), med("oip:bench", c, "rps")
            if rps is None:
                continue
            ratio = f"{mine / rps:.2f}" if mine and s != "oip:bench" else "—"
            print(
                f"| {'prognos' if s == 'oip:bench' else s} | {c} | {rps:.0f} | {med(s, c, 'p50_us') / 1000:.2f} | "
                f"{med(s, c, 'p99_us') / 1000:.2f} | {med(s, c, 'errors'):.0f} | {ratio} |"
            )
    top = max(levels)
    mine = med("oip:bench", top, "rps")
    print(f"\ngoals at concurrency {top} (prognos req/s ÷ peer req/s, same run):")
    for peer, goal in GOALS.items():
        theirs = med(peer, top, "rps")
        if mine is None or theirs is None:
            print(f"  {peer}: not measured")
            continue
        verdict = "met" if mine / theirs >= goal else "MISSED"
        print(f"  × {peer}: {mine / theirs:.2f} (goal ≥ {goal}) {verdict}")


if __name__ == "__main__":
    main()
