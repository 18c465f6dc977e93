"""`prognos stream` workers behind `prognos serve --partitions`, on a real broker and PostgreSQL.

Devices publish over MQTT; the server stores and forwards on the stream bus; two workers split the
partitions. One is killed with SIGKILL while it has a backlog, more data arrives while it is dead, and
it is started again. Afterwards the store must hold exactly what one uninterrupted scorer produces
from the same readings: every prediction once, the same alerts with the same ids and histories, and
a command sent to the device for every alert.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import orjson
import pytest

from prognos.act.alerts import Alerts
from prognos.act.decisions import Decisions
from prognos.act.rules import Engine
from prognos.act.rulesfile import load_rules
from prognos.broker import stop
from prognos.features import RegimeScaler
from prognos.inference.deployments import Deployments
from prognos.registry import Registry
from prognos.sim.send import MqttTarget
from prognos.store import open_store
from prognos.stream import Planner, Scorer, feedback, parse_assignments
from prognos.stream.bus import partition
from prognos.stream.view import Judge
from prognos.stream.worker import Share, Worker, parse_worker
from prognos.types import Reading
from tests.services import Mosquitto, ServerProcess, listener
from tests.stream.test_scorer import STEP, calibrated, shifted, toy_anomaly

DEVICES = [f"pump-{i}" for i in range(8)]
PARTITIONS = 4


def fleet_readings(t0: int, n: int = 150) -> list[Reading]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        for j, dev in enumerate(DEVICES):
            hot = j % 3 == 0 and 40 + j * 5 <= i < 75 + j * 5  # episodes on some pumps, some spanning the kill
            scale = 6.0 if hot else 1.0
            ts = t0 + i * STEP + int(rng.integers(0, 300))
            out.append(Reading(dev, ts, {"a": float(rng.normal()) * scale, "b": float(rng.normal())}))
    return out


RULES = """rules:
  - name: hot
    signal: anomaly.score
    above: 8
    exit: 4
    n_of_m: [2, 3]
    actions: [{mqtt: {command: {action: inspect}}}]
"""


def expected(tmp_path, registry_dir, data):
    """The reference: one scorer, never interrupted, over the same readings."""
    store = open_store("memory://")
    reg = Registry(store, registry_dir)
    reg.publish(tmp_path / "toy")
    reg.promote("toy", 1)
    book = Alerts(store)

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        decisions = Decisions(Engine(load_rules(tmp_path / "rules.yaml")), book)
        scorer = Scorer(Planner(d, parse_assignments("*=toy")), decisions)
        preds = [p for i in range(0, len(data), 40) for p in await scorer.score(data[i : i + 40])]
        await d.close()
        return preds

    preds = asyncio.run(main())
    scores = {(p.device_id, p.ts): p.signals["anomaly.score"] for p in preds}
    return scores, {a.id: (a.device_id, a.opened_ts, a.state, [h["event"] for h in a.history]) for a in book.list()}


class Commands:
    """A device-side listener on every command topic."""

    def __init__(self, url: str) -> None:
        self.got: list[dict] = []
        self.client = listener(url, ["prognos/devices/+/commands"], "devices", self._heard)

    def _heard(self, client, userdata, message) -> None:
        self.got.append(orjson.loads(message.payload))

    def close(self) -> None:
        stop(self.client)


def test_a_worker_killed_mid_stream_and_restarted_loses_and_duplicates_nothing(tmp_path, fresh_pg):
    broker = Mosquitto().start()
    registry_dir = tmp_path / "models"
    publish_toy(tmp_path, fresh_pg, registry_dir)
    t0 = (int(time.time() * 1000) - 3_600_000) // STEP * STEP
    data = fleet_readings(t0)
    want_scores, want_alerts = expected(tmp_path, tmp_path / "ref-models", sorted(data, key=lambda r: r.ts))
    assert len(want_alerts) >= 2

    common = ["--registry", str(registry_dir), "--mqtt", broker.url, "--partitions", str(PARTITIONS)]
    worker_args = [*common, "--stream", "*=toy", "--rules", str(tmp_path / "rules.yaml"), "--checkpoint-interval", "1"]
    commands = Commands(broker.url)
    server = ServerProcess(fresh_pg, *common, "--mqtt-client-id", "ingest").__enter__()
    workers = [
        ServerProcess(fresh_pg, *worker_args, "--worker", f"{i}/2", command="stream").__enter__() for i in range(2)
    ]
    store = open_store(fresh_pg)
    try:
        owned = {i: [d for d in DEVICES if partition(d, PARTITIONS) % 2 == i] for i in range(2)}
        assert owned[0] and owned[1], owned  # both workers have devices
        sender = MqttTarget(broker.url, client_id="fleet")
        pace = threading.Thread(
            target=lambda: [(sender.send(data[i : i + 40]), time.sleep(0.2)) for i in range(0, len(data), 40)]
        )
        pace.start()  # 30 chunks over 6 s: the fleet keeps talking throughout
        deadline = time.monotonic() + 30
        while (
            (h := workers[0].health()["worker"])["acknowledged"] < 1
            or h["messages"] == h["acknowledged"]
            or h["readings"] < 100
        ):
            assert time.monotonic() < deadline, h  # wait for work done, some of it not yet acknowledged
            time.sleep(0.02)
        workers[0].kill()  # mid-stream, with a backlog and unacknowledged work: no goodbye
        time.sleep(1.0)  # its partitions queue in the broker meanwhile
        workers[0] = ServerProcess(fresh_pg, *worker_args, "--worker", "0/2", command="stream").__enter__()
        pace.join()
        sender.close()
        assert h["readings"] < len(owned[0]) * 150 * 3 // 4  # it really died before the end

        deadline = time.monotonic() + 90
        while len(got := scores(store, t0)) < len(want_scores) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert got.keys() == want_scores.keys(), (len(got), len(want_scores))  # nothing lost, nothing extra
        assert all(abs(got[k] - v) < 1e-4 for k, v in want_scores.items())
        time.sleep(1.0)  # the last alerts and commands
        alerts = {
            a.id: (a.device_id, a.opened_ts, a.state, [h["event"] for h in a.history]) for a in Alerts(store).list()
        }
        assert alerts == want_alerts  # the same alerts, each once, with the same histories
        sent = [c["alert_id"] for c in commands.got]
        assert set(sent) == set(want_alerts) and all(c["event"] == "open" for c in commands.got)
        assert len(sent) - len(set(sent)) <= 1  # at most the one a kill may have caught between send and record
        states = [w.health()["worker"] for w in workers]
        assert sum(s["acknowledged"] for s in states) > 0 and all(s["backlog"] == 0 for s in states)
    finally:
        for w in workers:
            w.__exit__(None, None, None)
        server.__exit__(None, None, None)
        commands.close()
        store.close()
        broker.stop()


def publish_toy(tmp_path, store_url: str, registry_dir) -> None:
    """The toy model (champion) and the rules with an MQTT command, in the shared registry."""
    toy_anomaly(tmp_path / "toy", RegimeScaler().fit(np.random.default_rng(1).normal(size=(200, 2))))
    (tmp_path / "rules.yaml").write_text(RULES)
    setup = open_store(store_url)
    reg = Registry(setup, registry_dir)
    reg.publish(tmp_path / "toy")
    reg.promote("toy", 1)
    setup.close()


def scores(store, t0: int) -> dict[tuple[str, int], float]:
    """Every stored anomaly score, by (device, window end)."""
    out = {}
    for dev in DEVICES:
        t = store.read(dev, t0 - 60_000, t0 + 10**7, ["pred.toy.anomaly.score"])
        out |= {(dev, ts): v for ts, v in zip(t["ts"].to_pylist(), t["value"].to_pylist(), strict=True)}
    return out


@pytest.mark.parametrize("bad", ["2/2", "a/b", "1", "-1/3"])
def test_a_bad_worker_spelling_is_refused(bad):
    from prognos.errors import ConfigError

    with pytest.raises(ConfigError, match="INDEX/COUNT"):
        parse_worker(bad)


def test_a_worker_hears_false_alarms_for_the_devices_it_owns_and_keeps_where_it_stopped(tmp_path):
    """A false alarm resolved anywhere is a record; a worker reads them between batches and its devices' normal
    learns them (another worker's devices are left to that worker); the last one heard is in its checkpoint."""
    store = open_store("memory://")
    reg, _, _ = calibrated(tmp_path, store)
    share = Share.parse(4, "0/2")
    devices = [f"pump-{i}" for i in range(12)]
    mine = next(d for d in devices if partition(d, 4) % 2 == 0)
    theirs = next(d for d in devices if partition(d, 4) % 2 == 1)
    data = sorted(
        (Reading(d, r.ts, r.values) for d in (mine, theirs) for r in shifted(n=40, at=1000)), key=lambda r: r.ts
    )

    async def main():
        d = Deployments(reg, poll=0)
        await d.start()
        try:
            scorer = Scorer(Planner(d, parse_assignments("*=calibrated"), judge=Judge(adapt="1d")))
            await scorer.score(data)
            worker = Worker(scorer, store, "mqtt://127.0.0.1:1", share, interval=0.01)
            view = next(iter(scorer.plan._views.values()))
            before = {dev: view.trackers[dev].level for dev in (mine, theirs)}
            for i, dev in enumerate((mine, theirs)):
                store.put_record(feedback.KIND, *feedback.record(f"a{i}", dev, "calibrated", 1, 1e6, 1_700_000_000_000))
            await worker.hear(every=0)
            after = {dev: view.trackers[dev].level for dev in (mine, theirs)}
            await worker.checkpoint(force=True)
            return before, after, store.records("stream-checkpoint")
        finally:
            await d.close()

    before, after, saved = asyncio.run(main())
    assert after[mine] > before[mine] and after[theirs] == before[theirs]
    ((_, doc),) = saved
    assert doc["heard"] == feedback.record("a1", theirs, "calibrated", 1, 1e6, 1_700_000_000_000)[0]
