import asyncio

from prognos.aio import cancel


def test_cancel_stops_every_task_and_skips_the_absent_ones():
    stopped = []

    async def forever(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.append(name)

    async def main() -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(forever(n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        await cancel(tasks[0], None, tasks[1])
        return tasks

    tasks = asyncio.run(main())
    assert sorted(stopped) == ["a", "b"] and all(t.cancelled() for t in tasks)
