"""``prognos stream``: a scoring worker that owns some partitions of the stream bus.

Worker ``i`` of ``n`` owns the bus partitions ``p`` with ``p % n == i`` (on Kubernetes, a StatefulSet's
ordinal). Each partition is one persistent MQTT 5 session, client id ``<group>-p<NNN>``, subscribed
to ``prognos/stream/<p>`` at QoS 1: while no worker holds it the broker keeps its messages, and when
a worker takes it over — a restart, or another layout of workers — the broker hands over the session
with everything unacknowledged, and disconnects any older holder (MQTT's session takeover), so a
device's windows and rule state live in exactly one worker.

Processing is at-least-once, and its effects are idempotent. A message is acknowledged only after
(1) its predictions are durable, its alerts recorded and their actions done, and (2) a checkpoint
holding the scorer's state after it — each window's position and the rule engine — is in the store.
After a crash the broker redelivers what was not acknowledged; the new worker restores the last
checkpoint, rebuilds each device's window from the stored readings, and replays: readings in cells
already scored are skipped, predictions are stored again unchanged (a repeat keeps the first), alert
ids are deterministic and recorded once, actions already done are not repeated. Nothing is lost and
nothing visible is duplicated.

Checkpoints are kept per worker (``stream-checkpoint`` records, ``<group>/<i>-of-<n>``); a worker
restores from every checkpoint of its group the devices it now owns, newest last, so changing the
number of workers carries the state over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from prognos.aio import cancel
from prognos.broker import Broker, Session, stop, subscribe
from prognos.errors import ConfigError, InvalidInput, PrognosError
from prognos.store import Records
from prognos.stream import feedback
from prognos.stream.bus import TOPIC, decode, partition
from prognos.stream.scorer import Scorer
from prognos.types import now_ms

log = logging.getLogger(__name__)

KIND = "stream-checkpoint"
HEAR_S = 5.0  # how often a worker reads the false alarms people resolved


@dataclass
class WorkerStats:
    messages: int = 0
    readings: int = 0
    rejected: int = 0
    checkpoints: int = 0
    checkpoint_failures: int = 0
    acknowledged: int = 0
    taken_over: int = 0  # sessions another process took over
    last_error: str | None = None


def parse_worker(text: str) -> tuple[int, int]:
    """``"1/3"`` → (1, 3): this worker's index and the number of workers."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise ConfigError(f"--worker {text!r}: expected INDEX/COUNT with 0 ≤ INDEX < COUNT, e.g. 0/3")
    return int(index), int(count)


@dataclass(frozen=True)
class Share:
    """A worker's share of the bus: worker ``index`` of ``count`` owns the partitions p with p % count == index."""

    partitions: int
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.partitions < 1 or not 0 <= self.index < self.count:
            raise ConfigError(
                f"worker {self.index}/{self.count} of {self.partitions} partitions: expected 0 ≤ index < count"
            )

    @classmethod
    def parse(cls, partitions: int, worker: str) -> Share:
        """From ``--partitions`` and ``--worker INDEX/COUNT``."""
        return cls(partitions, *parse_worker(worker))


class Worker:
    def __init__(
        self,
        scorer: Scorer,
        store: Records,
        url: str,
        share: Share,
        group: str = "prognos-stream",
        interval: float = 1.0,
        session_expiry: int = 7 * 86_400,
    ) -> None:
        self.scorer, self.store, self.share = scorer, store, share
        self.partitions, self.index, self.count = share.partitions, share.index, share.count
        self.broker = Broker.parse(url)
        self.group, self.interval, self.session_expiry = group, interval, session_expiry
        self.owned = [p for p in range(self.partitions) if p % self.count == self.index]
        self.key = f"{group}/{self.index}-of-{self.count}"
        self.stats = WorkerStats()
        self._clients: dict[int, Any] = {}
        self._up: set[int] = set()  # partitions connected and subscribed now
        self._queue: asyncio.Queue[tuple[Any, int, bytes]] | None = None
        self._acks: list[tuple[Any, int]] = []
        self._lock = asyncio.Lock()  # a checkpoint sees the scorer between batches, never inside one
        self._tasks: list[asyncio.Task[None]] = []
        self._last_checkpoint = 0.0
        self._heard = ""  # the last false-alarm record applied (`prognos.stream.feedback`)
        self._heard_at = 0.0

    def owns(self, device_id: str) -> bool:
        return partition(device_id, self.partitions) % self.count == self.index

    # -- life -------------------------------------------------------------------------------------
    async def start(self) -> None:
        docs = [doc for _, doc in await asyncio.to_thread(self.store.records, KIND, f"{self.group}/")]
        for doc in sorted(docs, key=lambda d: d.get("ts", 0)):
            self.scorer.restore(doc, keep=self.owns)
            self._heard = max(self._heard, str(doc.get("heard", "")))
        if docs:
            log.info("%s: state restored from %d checkpoints", self.key, len(docs))
        self._queue = asyncio.Queue()
        await self.scorer.start()
        loop = asyncio.get_running_loop()
        for p in self.owned:
            self._clients[p] = self._connect(p, loop)
        self._tasks = [
            asyncio.create_task(self._consume(), name="stream worker"),
            asyncio.create_task(self._checkpoints(), name="stream checkpoints"),
        ]

    async def close(self) -> None:
        """Finish what arrived, checkpoint and acknowledge it, then leave the sessions for the next holder."""
        for client in self._clients.values():
            client.on_message = None  # nothing new from here on; the broker keeps it for the next holder
        assert self._queue is not None
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        await cancel(*self._tasks)
        await self.checkpoint(force=True)
        for client in self._clients.values():
            stop(client)
        self._clients.clear()
        await self.scorer.close()

    def status(self) -> dict[str, Any]:
        return {
            "worker": f"{self.index}/{self.count}",
            "partitions": self.owned,
            "group": self.group,
            "broker": self.broker.url,
            "backlog": self._queue.qsize() if self._queue else 0,
            "connected": sorted(self._up),
            "pending_acks": len(self._acks),
            **asdict(self.stats),
        }

    # -- the partitions' sessions (paho threads) -----------------------------------------------------
    def _connect(self, p: int, loop: asyncio.AbstractEventLoop) -> Any:
        session = Session(expiry=self.session_expiry, manual_ack=True)
        client = self.broker.client(f"{self.group}-p{p:03d}", session)
        queue = self._queue
        assert queue is not None

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            if reason.is_failure:
                self.stats.last_error = f"partition {p}: connect refused: {reason}"
                return
            subscribe(c, [TOPIC.format(partition=p)])

        def on_subscribe(c: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
            if not any(r.is_failure for r in reasons):
                self._up.add(p)  # connected, and the broker will deliver: the partition is up

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            self._up.discard(p)
            self.stats.last_error = f"partition {p}: disconnected: {reason}"
            if getattr(reason, "value", None) == 0x8E:  # session taken over: another worker holds p now
                self.stats.taken_over += 1
                log.warning("%s: partition %d was taken over by another process; letting it go", self.key, p)
                threading.Thread(target=c.loop_stop, daemon=True).start()

        def on_message(c: Any, userdata: Any, msg: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (c, msg.mid, msg.payload))

        client.on_connect, client.on_subscribe = on_connect, on_subscribe
        client.on_disconnect, client.on_message = on_disconnect, on_message
        self.broker.start(client, session)
        return client

    # -- work ---------------------------------------------------------------------------------------
    async def _consume(self) -> None:
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            readings = []
            for _, _, payload in items:
                try:
                    readings += decode(payload)
                except InvalidInput as exc:  # acknowledged all the same: it would never decode
                    self.stats.rejected += 1
                    log.error("%s: %s", self.key, exc)
            async with self._lock:
                try:
                    await self.scorer.score(readings)
                except Exception:  # a batch that fails every time must not stop its partitions forever
                    log.exception("%s: scoring %d readings failed", self.key, len(readings))
                self._acks += [(client, mid) for client, mid, _ in items]
            self.stats.messages += len(items)
            self.stats.readings += len(readings)

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.hear()
            await self.checkpoint()

    async def hear(self, every: float = HEAR_S) -> None:
        """False alarms people resolved since the last ones heard (every ``every`` s at most): the devices' normal
        learns them between batches."""
        if time.monotonic() - self._heard_at < every:
            return
        self._heard_at = time.monotonic()
        try:
            found = await asyncio.to_thread(self.store.records, feedback.KIND)
        except PrognosError as exc:  # the store is away: heard next time
            log.warning("%s: false alarms not read: %s", self.key, exc)
            return
        async with self._lock:
            self._heard, learned = feedback.hear(self.scorer.plan, found, self._heard, self.owns)
        if learned:
            log.info("%s: %d false alarms learned", self.key, learned)

    async def checkpoint(self, force: bool = False) -> None:
        """Save the scorer's state, then acknowledge every message it includes."""
        async with self._lock:
            idle = time.monotonic() - self._last_checkpoint < 30
            if not (self._acks or force or not idle):
                return
            doc = {"ts": now_ms(), "worker": self.key, "partitions": self.partitions, "heard": self._heard}
            doc |= self.scorer.checkpoint()
            acks, self._acks = self._acks, []
        try:
            await asyncio.to_thread(self.store.put_record, KIND, self.key, doc, True)
        except PrognosError as exc:  # unacknowledged, they stay with the broker; try again next time
            self.stats.checkpoint_failures += 1
            self.stats.last_error = f"checkpoint: {exc}"
            log.error("%s: checkpoint failed: %s", self.key, exc)
            async with self._lock:
                self._acks = acks + self._acks
            return
        self._last_checkpoint = time.monotonic()
        self.stats.checkpoints += 1
        for client, mid in acks:
            client.ack(mid, 1)
        self.stats.acknowledged += len(acks)
