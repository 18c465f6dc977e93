"""Group commit: futures complete after the write, failures reach every waiter, the bound holds."""

from __future__ import annotations

import threading

import pytest

from prognos.errors import StoreError
from prognos.store import MemoryStore
from prognos.store.writer import BatchWriter, Overloaded
from prognos.types import Reading

T = 1_700_000_000_000


class SlowStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.batches: list[int] = []
        self.fail = False

    def write(self, readings):
        self.gate.wait(10)
        if self.fail:
            raise StoreError("disk full")
        self.batches.append(len(readings))
        return super().write(readings)


def test_submissions_queued_during_a_commit_go_in_together():
    store = SlowStore()
    w = BatchWriter(store)
    futures = [w.submit([Reading("d", T + i, {"a": 1.0})]) for i in range(50)]
    assert not futures[-1].done()  # nothing is acknowledged before it is written
    store.gate.set()
    assert all(f.result(10) == 1 for f in futures)
    assert len(store.batches) <= 2 and sum(store.batches) == 50
    w.close()


def test_a_failed_write_reaches_every_waiter():
    store = SlowStore()
    store.fail = True
    store.gate.set()
    w = BatchWriter(store)
    f = w.submit([Reading("d", T, {"a": 1.0})])
    with pytest.raises(StoreError, match="disk full"):
        f.result(10)
    assert w.stats.failures == 1 and w.stats.pending == 0
    w.close()


def test_the_pending_bound_sheds_load():
    store = SlowStore()
    w = BatchWriter(store, max_pending=10)
    w.submit([Reading("d", T + i, {"a": 1.0}) for i in range(8)])
    with pytest.raises(Overloaded):
        w.submit([Reading("d", T + 100 + i, {"a": 1.0}) for i in range(8)])
    store.gate.set()
    w.close()


def test_a_failed_forward_is_not_acknowledged_though_the_data_is_stored():
    from prognos.errors import BrokerUnavailable

    store = MemoryStore()
    calls: list[int] = []

    def forward(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise BrokerUnavailable("bus away")

    w = BatchWriter(store, forward=forward)
    told: list[int] = []
    w.listeners.append(lambda batch, submitted: told.append(len(batch)))
    with pytest.raises(BrokerUnavailable):
        w.submit([Reading("d", T, {"a": 1.0})]).result(10)
    assert store.read("d", T, T + 1).num_rows == 1 and told == []  # stored, but nobody told: it is sent again
    assert w.submit([Reading("d", T, {"a": 1.0})]).result(10) == 1  # the resend: stored once, forwarded, acknowledged
    assert store.read("d", T, T + 1).num_rows == 1 and calls == [1, 1] and told == [1]
    assert w.stats.forward_failures == 1
    w.close()


def test_taps_hear_of_a_submission_before_it_is_durable_unless_told_not_to():
    store = SlowStore()
    w = BatchWriter(store)
    heard: list[tuple[list[str], bool]] = []
    w.taps.append(lambda readings, arrived: heard.append(([r.device_id for r in readings], store.batches == [])))
    first = w.submit([Reading("telemetry", T, {"a": 1.0})])
    w.submit([Reading("prediction", T, {"pred.m.score": 1.0})], tap=False)
    assert heard == [(["telemetry"], True)]  # told at once, while the store still holds nothing
    store.gate.set()
    assert first.result(10) == 1
    w.close()
    assert heard == [(["telemetry"], True)]
