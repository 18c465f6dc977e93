from __future__ import annotations

import asyncio

import numpy as np
import pytest

from prognos.errors import IntegrityError, ModelNotFound, ModelNotReady
from prognos.inference.deployments import Deployments, bucket
from tests.inference.conftest import tamper
from tests.test_registry import artifact

X = np.ones((1, 4, 3), np.float32)


def feed():
    return {"input": ("FP32", X, {})}


async def answer(deployments, name="pump-anomaly", ref=None, device=None):
    served, _shadow = await deployments.resolve(name, ref, device)
    result = await served.infer(served.model.validate(feed()))
    return served.model.version, float(result.outputs[0].ravel()[0])


def test_a_device_keeps_its_bucket_and_buckets_split_by_weight():
    assert all(bucket(f"pump-{i}") == bucket(f"pump-{i}") for i in range(100))
    share = np.mean([bucket(f"pump-{i}") < 0.2 for i in range(10_000)])
    assert 0.18 < share < 0.22


def test_promotion_swaps_and_the_old_version_drains(registry):
    async def main():
        d = Deployments(registry, poll=0)
        await d.start()
        assert await answer(d) == (1, 2.0)
        pending = [asyncio.ensure_future(answer(d)) for _ in range(20)]  # in flight across the swap
        await asyncio.sleep(0)
        registry.promote("pump-anomaly", 2)
        route = await d.sync("pump-anomaly")
        assert route.primary.model.version == 2
        assert {r[0] for r in await asyncio.gather(*pending)} <= {1, 2}
        assert await answer(d) == (2, 3.0)
        await asyncio.sleep(0.05)
        assert ("pump-anomaly", 1) not in d.loaded  # retired once drained
        registry.rollback("pump-anomaly")
        await d.sync("pump-anomaly")
        assert await answer(d) == (1, 2.0)
        assert await answer(d, ref="2") == (2, 3.0)  # an explicit version loads on demand
        await d.close()

    asyncio.run(main())


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(registry):
    async def main():
        d = Deployments(registry, poll=0)
        await d.start()
        registry.promote("pump-anomaly", 2)
        path = registry.root / "pump-anomaly" / "2" / "model.onnx"
        good = path.read_bytes()
        tamper(registry, 2)  # the disk went bad after the promotion (a promotion itself refuses a bad file)
        assert (await d.sync("pump-anomaly")).versions()["champion"] == 1  # the old route stays
        assert await answer(d) == (1, 2.0)
        ready, reason = d.status("pump-anomaly", 2)
        assert not ready and "checksum" in reason
        assert d.lagging() == [f"pump-anomaly serves v1, not its champion v2: {reason}"]
        assert d.metrics.load_failures.labels("pump-anomaly", "2")._value.get() == 1
        await d.sync("pump-anomaly")  # tried again at once: the same files, the same answer
        assert d.metrics.load_failures.labels("pump-anomaly", "2")._value.get() == 1  # not even opened again
        path.write_bytes(good)  # repaired: tried again now, not in 30 s
        await d.sync("pump-anomaly")
        assert (await answer(d))[0] == 2 and d.lagging() == []
        await d.close()

    asyncio.run(main())


def test_at_start_a_champion_that_cannot_load_is_stood_in_for_by_the_newest_earlier_one_that_can(registry, tmp_path):
    async def main():
        registry.publish(artifact(tmp_path / "a3", scale=4.0))
        for v in (2, 3):
            registry.promote("pump-anomaly", v)  # history: 1, 2, 3
        tamper(registry, 3)
        tamper(registry, 2)
        d = Deployments(registry, poll=0)  # a restart finds both newest versions spoilt
        await d.start()
        assert await answer(d) == (1, 2.0)
        assert registry.aliases("pump-anomaly") == {"champion": 3}  # a server never moves the alias itself
        assert len(d.lagging()) == 1 and d.lagging()[0].startswith("pump-anomaly serves v1, not its champion v3: ")
        with pytest.raises(IntegrityError):
            registry.rollback("pump-anomaly")  # onto v2, spoilt too: the registry refuses to move the alias
        registry.promote("pump-anomaly", 1)
        await d.sync("pump-anomaly")
        assert await answer(d) == (1, 2.0) and d.lagging() == []  # the alias names what serves: well again
        await d.close()

    asyncio.run(main())


def test_with_no_earlier_version_that_loads_the_champion_is_not_served(registry):
    async def main():
        tamper(registry, 1)
        d = Deployments(registry, poll=0)
        await d.start()
        ready, reason = d.status("pump-anomaly")
        assert not ready and "checksum" in reason and d.lagging() == []
        await d.close()

    asyncio.run(main())


def test_canary_and_shadow_follow_the_traffic_policy(registry):
    async def main():
        registry.promote("pump-anomaly", 2, alias="challenger")
        registry.set_traffic("pump-anomaly", canary="challenger", weight=0.5, shadow="challenger")
        d = Deployments(registry, poll=0)
        await d.start()
        seen = {}
        for i in range(60):
            versions = {(await answer(d, device=f"pump-{i}"))[0] for _ in range(4)}
            assert len(versions) == 1  # sticky
            seen[f"pump-{i}"] = versions.pop()
        assert set(seen.values()) == {1, 2}
        assert all((v == 2) == (bucket(k) < 0.5) for k, v in seen.items())
        _, shadow = await d.resolve("pump-anomaly", None, "pump-1")
        assert shadow.model.version == 2
        await d.close()

    asyncio.run(main())


def test_unknown_names_and_aliases_are_not_found_and_unloaded_names_not_ready(registry):
    async def main():
        d = Deployments(registry, poll=0)
        await d.start()
        with pytest.raises(ModelNotFound):
            await d.resolve("nope", None, None)
        with pytest.raises(ModelNotFound, match="no alias 'staging'"):
            await d.resolve("pump-anomaly", "staging", None)
        with pytest.raises(ModelNotFound, match="no version 9"):
            await d.resolve("pump-anomaly", "9", None)
        await d.unload_name("pump-anomaly")
        with pytest.raises(ModelNotReady, match="unloaded"):
            await d.resolve("pump-anomaly", None, None)
        await d.load_name("pump-anomaly")
        assert await answer(d) == (1, 2.0)
        await d.close()

    asyncio.run(main())


def test_unknown_names_cost_one_registry_read_a_second_however_many_arrive(registry):
    calls = {"names": 0, "versions": 0}

    def counted(name, real):
        def call(*args):
            calls[name] += 1
            return real(*args)

        return call

    registry.names = counted("names", registry.names)
    registry.versions = counted("versions", registry.versions)

    async def main():
        d = Deployments(registry, poll=0)
        await d.start()
        before = dict(calls)
        for i in range(300):  # a flood of names nobody published
            with pytest.raises(ModelNotFound):
                await d.resolve(f"nope-{i}", None, None)
        assert calls["names"] - before["names"] <= 1 and calls["versions"] == before["versions"]
        assert await answer(d) == (1, 2.0)  # the known name is served as ever
        await d.close()

    asyncio.run(main())
