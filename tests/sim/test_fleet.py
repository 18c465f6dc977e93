"""The simulator: deterministic, correlated, with faults and failures that the ground truth names."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prognos.sim import FAULTS, TYPES, Fleet
from prognos.sim.send import seconds, truth_path, write_parquet

T = 1_700_000_000_000


def test_same_seed_same_data_different_seed_different_data():
    a, b, c = (Fleet(6, 2, 300, seed=s, start=T) for s in (1, 1, 2))
    assert a.truth() == b.truth() and a.truth() != c.truth()
    for d in range(6):
        assert np.array_equal(a.chunk(a.devices[d], 2).values, b.chunk(b.devices[d], 2).values)
    assert not np.array_equal(a.chunk(a.devices[0], 2).values, c.chunk(c.devices[0], 2).values)


def test_types_have_8_to_20_sensors_and_sensors_are_correlated():
    assert all(8 <= len(s) <= 20 for s in TYPES.values())
    f = Fleet(1, 5, 1800, seed=4, start=T, failing=0, faults_per_device=0)
    v = np.concatenate([f.chunk(f.devices[0], c).values for c in range(f.chunks)])
    names = f.chunk(f.devices[0], 0).names
    corr = np.corrcoef(v[:, names.index("flow")], v[:, names.index("motor_current")])[0, 1]
    assert corr > 0.8  # both follow the load


def test_wear_rises_towards_failure_and_the_machine_goes_quiet():
    f = Fleet(30, 1, 1200, seed=5, start=T)
    dev = next(d for d in f.devices if d.failure is not None and d.failure < T + 1_200_000 and d.type == "pump")
    chunks = [f.chunk(dev, c) for c in range(f.chunks)]
    ts = np.concatenate([c.ts for c in chunks])
    modes = np.concatenate([c.modes for c in chunks])
    vib = np.concatenate([c.values[:, c.names.index("vibration_x")] for c in chunks])
    assert (modes[ts >= dev.failure] == -1).all() and (modes[ts < dev.failure] >= 0).all()
    early = vib[ts < dev.degradation_start].mean()
    late = vib[(ts < dev.failure) & (ts > dev.failure - 60_000)].mean()
    assert late > early * 1.8


def test_injected_faults_show_in_the_data_where_the_truth_says():
    f = Fleet(40, 2, 1800, seed=9, start=T, faults_per_device=2)
    kinds = {x["fault"] for x in f.truth()["faults"]}
    assert kinds == set(FAULTS)
    for dev in f.devices:
        for fault in dev.faults:
            if fault.fault != "stuck":
                continue
            col = [s.name for s in dev.sensors].index(fault.sensors[0])
            vals = np.concatenate([f.chunk(dev, c).values[:, col] for c in range(f.chunks)])
            ts = np.concatenate([f.chunk(dev, c).ts for c in range(f.chunks)])
            inside = vals[(ts >= fault.start) & (ts < fault.end)]
            assert inside.size and np.ptp(inside) == 0  # frozen
            assert np.ptp(vals[ts < fault.start]) > 0


def test_parquet_output_has_truth_beside_it_and_matches_the_stream(tmp_path):
    f = Fleet(3, 1, 120, seed=2, start=T)
    path = write_parquet(f, tmp_path / "fleet.parquet")
    truth = json.loads(truth_path(path).read_text())
    assert truth == json.loads(json.dumps(f.truth()))
    table = pq.read_table(path)
    streamed = [r for batch in seconds(f) for r in batch]
    assert table.num_rows == len(streamed)
    row = table.filter(pc.equal(table.column("device_id"), streamed[0].device_id)).slice(0, 1).to_pylist()[0]
    assert all(row[k] == v for k, v in streamed[0].values.items())


def test_every_fault_in_the_truth_is_visible_in_the_data():
    """No fault may lie where the machine has already failed and sends nothing."""
    for seed in range(5):
        f = Fleet(30, 1, 3600, seed=seed, start=T, faults_per_device=2)
        for d in f.devices:
            for fault in d.faults:
                assert fault.start < fault.end
                assert f.start <= fault.start and fault.end <= f.start + 3_600_000
                if d.failure is not None:
                    assert fault.end <= d.failure, (seed, d.device_id, fault)
