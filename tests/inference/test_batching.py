from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from prognos.errors import ModelNotReady, Overloaded
from prognos.inference.batching import OFFLOAD_ROWS, Batcher, BatchOptions


class Doubler:
    """y = 2x, recording the rows of every call."""

    def __init__(self, fail_on: float | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on

    def __call__(self, feed):
        x = feed["x"]
        self.calls.append(x.shape[0])
        if self.fail_on is not None and (x == self.fail_on).any():
            raise RuntimeError("poisoned batch")
        return [x * 2]


def feed(value: float, rows: int = 1, width: int = 3) -> dict[str, np.ndarray]:
    return {"x": np.full((rows, width), value, np.float32)}


def test_concurrent_requests_share_calls_and_each_gets_its_own_rows():
    run = Doubler()

    async def main():
        batcher = Batcher(run, BatchOptions(max_batch=16, max_delay=0.05))
        futures = [batcher.submit(feed(i, rows=1 + i % 2)) for i in range(40)]
        results = await asyncio.gather(*futures)
        await batcher.close()
        return results

    results = asyncio.run(main())
    for i, r in enumerate(results):
        assert r.outputs[0].shape == (1 + i % 2, 3) and (r.outputs[0] == 2 * i).all()
        assert r.batch_rows > 1 and r.queue_s >= 0 and r.compute_s >= 0
    assert max(run.calls) <= 16 and len(run.calls) < 40 and sum(run.calls) == sum(1 + i % 2 for i in range(40))


def test_an_idle_batcher_does_not_wait_for_company():
    async def main():
        batcher = Batcher(Doubler(), BatchOptions(max_batch=64, max_delay=5.0))
        started = time.perf_counter()
        await batcher.submit(feed(1.0))
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.5  # far below max_delay: nothing else was arriving


def test_a_full_queue_refuses_at_once():
    async def main():
        batcher = Batcher(Doubler(), BatchOptions(max_queue=3))
        futures = [batcher.submit(feed(i)) for i in range(3)]
        with pytest.raises(Overloaded, match="3 requests are queued"):
            batcher.submit(feed(9))
        await asyncio.gather(*futures)
        batcher.submit(feed(9))  # room again once the queue drained
        await batcher.close()

    asyncio.run(main())


def test_only_requests_of_one_shape_are_stacked():
    run = Doubler()

    async def main():
        batcher = Batcher(run, BatchOptions(max_batch=64))
        futures = [batcher.submit(feed(i, width=3 + i % 2)) for i in range(10)]
        return await asyncio.gather(*futures)

    for i, r in enumerate(asyncio.run(main())):
        assert r.outputs[0].shape == (1, 3 + i % 2) and (r.outputs[0] == 2 * i).all()
    assert len(run.calls) >= 2


def test_a_failing_batch_fails_its_requests_and_the_batcher_lives_on():
    async def main():
        batcher = Batcher(Doubler(fail_on=7.0), BatchOptions(max_batch=4))
        results = await asyncio.gather(
            *(batcher.submit(feed(7.0 if i == 0 else i)) for i in range(4)), return_exceptions=True
        )
        after = await batcher.submit(feed(3.0))
        return results, after

    results, after = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results)  # one batch: all four share its fate
    assert (after.outputs[0] == 6).all()


def test_close_drains_what_is_queued_then_refuses():
    async def main():
        batcher = Batcher(Doubler(), BatchOptions(max_batch=2))
        futures = [batcher.submit(feed(i)) for i in range(6)]
        await batcher.close()
        assert all(f.done() and not f.exception() for f in futures)
        with pytest.raises(ModelNotReady):
            batcher.submit(feed(1))

    asyncio.run(main())


def test_a_large_batch_computes_off_the_loop_and_a_small_one_on_it():
    threads: list[str] = []

    def run(feed):
        threads.append(threading.current_thread().name)
        return [feed["x"] * 2]

    async def main():
        batcher = Batcher(run, BatchOptions(max_batch=4096), label="m")
        small = await batcher.submit(feed(1.0, rows=2))
        large = await batcher.submit(feed(2.0, rows=OFFLOAD_ROWS))
        await batcher.close()
        return small, large

    small, large = asyncio.run(main())
    assert (small.outputs[0] == 2).all() and (large.outputs[0] == 4).all() and len(large.outputs[0]) == OFFLOAD_ROWS
    assert threads[0] == "MainThread" and threads[1].startswith("batcher-m")


def test_a_large_request_starts_computing_before_the_loop_turns():
    started = threading.Event()

    def run(feed):
        started.set()
        return [feed["x"] * 2]

    async def main():
        batcher = Batcher(run, BatchOptions(max_batch=4096), label="m")
        done = batcher.submit(feed(3.0, rows=OFFLOAD_ROWS))
        # No await since submit: only a thread could have started the call.
        began = started.wait(5)
        result = await done
        await batcher.close()
        return began, result

    began, result = asyncio.run(main())
    assert began and (result.outputs[0] == 6).all()


def test_close_waits_for_large_requests_already_computing():
    release = threading.Event()

    def run(feed):
        release.wait(5)
        return [feed["x"] * 2]

    async def main():
        batcher = Batcher(run, label="m")
        done = batcher.submit(feed(1.0, rows=OFFLOAD_ROWS))
        closing = asyncio.ensure_future(batcher.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # still computing: close waits for it
        release.set()
        await closing
        return done

    done = asyncio.run(main())
    assert done.done() and (done.result().outputs[0] == 2).all()
