"""A simulated fleet: pumps, motors and fans with correlated sensors, regimes, wear and faults.

Every sensor is a mix of shared latent signals - the load set by the operating regime, the ambient
temperature, and the wear that grows from a degradation onset until failure - plus its own noise,
so sensors of one machine move together as real ones do. Injected faults (spike, drift, stuck
sensor, rising vibration, overheating) overlay that, and the ground truth records each fault's
device, kind, sensors and interval, and each machine's failure time (so RUL is known at any t).

Data is produced in fixed chunks of ``CHUNK_S`` seconds, each from its own seeded generator, so
the same seed gives the same numbers whatever the consumer reads first.

>>> fleet = Fleet(devices=3, rate=1.0, duration=120, seed=7, start=1_700_000_000_000)
>>> [d.device_id for d in fleet.devices]
['pump-000', 'motor-001', 'fan-002']
>>> chunk = fleet.chunk(fleet.devices[0], 0)
>>> chunk.values.shape
(60, 12)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

CHUNK_S = 60
MODES = ("idle", "running", "peak")
MODE_LOAD = np.array([0.1, 0.6, 0.95])
FAULTS = ("spike", "drift", "stuck", "vibration", "overheat")


@dataclass(frozen=True)
class Sensor:
    name: str
    base: float
    load: float  # response to load (0..1)
    ambient: float  # response to ambient temperature offset (°C)
    wear: float  # response to wear (0..1)
    noise: float
    kind: str = "other"  # temperature | vibration | other: which faults touch it


def _s(name: str, base: float, load: float, ambient: float, wear: float, noise: float, kind: str = "other") -> Sensor:
    return Sensor(name, base, load, ambient, wear, noise, kind)


TYPES: dict[str, tuple[Sensor, ...]] = {
    "pump": (
        _s("inlet_pressure", 1.2, -0.3, 0.0, -0.15, 0.02),
        _s("outlet_pressure", 2.0, 4.0, 0.0, -0.8, 0.05),
        _s("flow", 5.0, 40.0, 0.0, -6.0, 0.4),
        _s("motor_current", 3.0, 18.0, 0.02, 4.0, 0.25),
        _s("power", 0.8, 9.0, 0.01, 2.0, 0.12),
        _s("speed_rpm", 600.0, 2200.0, 0.0, -80.0, 8.0),
        _s("bearing_temp", 25.0, 30.0, 0.8, 25.0, 0.4, "temperature"),
        _s("motor_temp", 28.0, 35.0, 0.8, 15.0, 0.4, "temperature"),
        _s("fluid_temp", 18.0, 6.0, 0.6, 2.0, 0.2, "temperature"),
        _s("vibration_x", 0.6, 1.4, 0.0, 5.0, 0.08, "vibration"),
        _s("vibration_y", 0.5, 1.2, 0.0, 4.5, 0.08, "vibration"),
        _s("seal_leak", 0.02, 0.05, 0.0, 0.6, 0.01),
    ),
    "motor": (
        _s("current", 2.0, 25.0, 0.03, 5.0, 0.3),
        _s("voltage", 400.0, -6.0, 0.0, -4.0, 1.0),
        _s("power", 0.5, 14.0, 0.01, 2.5, 0.15),
        _s("speed_rpm", 300.0, 2700.0, 0.0, -60.0, 6.0),
        _s("torque", 5.0, 80.0, 0.0, 6.0, 1.0),
        _s("winding_temp", 30.0, 55.0, 0.9, 20.0, 0.5, "temperature"),
        _s("bearing_temp", 26.0, 28.0, 0.8, 22.0, 0.4, "temperature"),
        _s("ambient_temp", 20.0, 0.5, 1.0, 0.0, 0.2, "temperature"),
        _s("vibration_axial", 0.4, 1.0, 0.0, 4.0, 0.06, "vibration"),
        _s("vibration_radial", 0.5, 1.3, 0.0, 5.0, 0.07, "vibration"),
    ),
    "fan": (
        _s("speed_rpm", 200.0, 1300.0, 0.0, -70.0, 5.0),
        _s("current", 0.5, 6.0, 0.01, 1.5, 0.08),
        _s("power", 0.1, 2.2, 0.0, 0.6, 0.04),
        _s("airflow", 300.0, 4200.0, 0.0, -500.0, 30.0),
        _s("inlet_temp", 20.0, 1.0, 1.0, 0.0, 0.2, "temperature"),
        _s("outlet_temp", 22.0, 9.0, 1.0, 4.0, 0.25, "temperature"),
        _s("bearing_temp", 24.0, 16.0, 0.8, 24.0, 0.35, "temperature"),
        _s("vibration", 0.3, 1.1, 0.0, 4.0, 0.05, "vibration"),
    ),
}


@dataclass(frozen=True)
class Fault:
    device_id: str
    fault: str
    sensors: tuple[str, ...]
    start: int  # epoch ms, inclusive
    end: int  # epoch ms, exclusive

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"sensors": list(self.sensors)}


@dataclass
class SimDevice:
    index: int
    device_id: str
    type: str
    location: tuple[float, float]
    degradation_start: int | None  # epoch ms: wear starts growing
    failure: int | None  # epoch ms: wear reaches 1 and the machine stops reporting
    regime_starts: np.ndarray = field(repr=False)  # sample indices where a regime starts
    regime_modes: np.ndarray = field(repr=False)  # mode index of each regime
    faults: list[Fault] = field(default_factory=list)

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        return TYPES[self.type]


@dataclass(frozen=True)
class Chunk:
    device: SimDevice
    ts: np.ndarray  # (n,) epoch ms
    values: np.ndarray  # (n, sensors)
    modes: np.ndarray  # (n,) mode index; -1 after failure (no reading)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.device.sensors]


class Fleet:
    def __init__(
        self,
        devices: int,
        rate: float,
        duration: float,
        seed: int = 0,
        start: int = 0,
        failing: float = 0.3,
        faults_per_device: float = 1.0,
    ) -> None:
        self.n, self.rate, self.duration, self.seed, self.start = devices, rate, duration, seed, start
        self.samples = round(duration * rate)
        self.period_ms = 1000.0 / rate
        rng = np.random.default_rng([seed, 0xF1EE7])
        kinds = list(TYPES)
        self.devices = [self._device(i, kinds[i % len(kinds)], rng, failing, faults_per_device) for i in range(devices)]

    def _device(self, i: int, kind: str, rng: np.random.Generator, failing: float, n_faults: float) -> SimDevice:
        site = np.array([[52.52, 13.40], [48.14, 11.58], [50.94, 6.96]])[i % 3]
        lat, lon = site + rng.normal(0, 0.02, 2)
        span = self.duration * 1000
        degradation = failure = None
        if rng.random() < failing:
            failure = self.start + int(span * rng.uniform(0.55, 1.4))  # some fail inside the run, some after
            degradation = failure - int(span * rng.uniform(0.35, 0.6))
        starts, modes = [0], [int(rng.integers(0, 3))]
        while starts[-1] < self.samples:
            starts.append(starts[-1] + max(1, int(rng.exponential(300) * self.rate)))
            modes.append(int(rng.choice(3, p=_TRANSITIONS[modes[-1]])))
        dev = SimDevice(
            i,
            f"{kind}-{i:03d}",
            kind,
            (round(float(lat), 5), round(float(lon), 5)),
            degradation,
            failure,
            np.array(starts[:-1]),
            np.array(modes[:-1]),
        )
        for _ in range(rng.poisson(n_faults)):
            fault = self._fault(dev, rng)
            if failure is None or fault.start < failure:  # a failed machine sends nothing: no fault to see
                dev.faults.append(fault if failure is None else replace(fault, end=min(fault.end, failure)))
        return dev

    def _fault(self, dev: SimDevice, rng: np.random.Generator) -> Fault:
        kind = str(rng.choice(FAULTS))
        span = self.duration * 1000
        length = int(span * rng.uniform(0.03, 0.12))
        start = self.start + int(rng.uniform(0.1, 0.85) * span)
        return Fault(dev.device_id, kind, _touched(dev, kind, rng), start, start + length)

    def inject(self, dev: SimDevice, kind: str, start: int, length: int) -> Fault:
        """Add a fault of ``kind`` over ``[start, start + length)`` (a scenario places one where it is watched)."""
        if kind not in FAULTS:
            raise ValueError(f"fault {kind!r}: expected one of {', '.join(FAULTS)}")
        rng = np.random.default_rng([self.seed, dev.index, start])
        fault = Fault(dev.device_id, kind, _touched(dev, kind, rng), start, start + length)
        dev.faults.append(fault)
        return fault

    def fail(self, dev: SimDevice, at: int, onset: int) -> None:
        """Make ``dev`` wear from ``onset`` and fail at ``at`` (it stops reporting then); later faults are cut."""
        dev.degradation_start, dev.failure = onset, at
        dev.faults = [replace(f, end=min(f.end, at)) for f in dev.faults if f.start < at]

    @property
    def chunks(self) -> int:
        return -(-self.samples // int(CHUNK_S * self.rate))

    def chunk(self, dev: SimDevice, index: int) -> Chunk:
        per = int(CHUNK_S * self.rate)
        idx = np.arange(index * per, min((index + 1) * per, self.samples))
        ts = self.start + np.round(idx * self.period_ms).astype(np.int64)
        rng = np.random.default_rng([self.seed, dev.index, index])
        mode = dev.regime_modes[np.searchsorted(dev.regime_starts, idx, side="right") - 1]
        # Load follows the regime with a slow wobble; ambient follows the day.
        load = MODE_LOAD[mode] + 0.04 * np.sin(2 * np.pi * ts / 600_000 + dev.index)
        ambient = 5.0 * np.sin(2 * np.pi * (ts % 86_400_000) / 86_400_000 - np.pi / 2) + rng.normal(0, 0.1, len(idx))
        wear = self._wear(dev, ts)
        s = dev.sensors
        base = np.array([x.base for x in s])
        values = (
            base
            + np.outer(load, [x.load for x in s])
            + np.outer(ambient, [x.ambient for x in s])
            + np.outer(wear, [x.wear for x in s])
        )
        clean = values.copy()
        values += rng.normal(0, 1, values.shape) * np.array([x.noise for x in s]) * (1 + 2 * wear[:, None])
        for f in dev.faults:
            self._apply(f, dev, ts, values, clean, rng)
        if dev.failure is not None:
            mode = np.where(ts >= dev.failure, -1, mode)
        return Chunk(dev, ts, np.round(values, 4), mode)

    @staticmethod
    def _wear(dev: SimDevice, ts: np.ndarray) -> np.ndarray:
        if dev.failure is None or dev.degradation_start is None:
            return np.zeros(len(ts))
        x = np.clip((ts - dev.degradation_start) / (dev.failure - dev.degradation_start), 0, 1)
        return x**2

    def _apply(
        self,
        f: Fault,
        dev: SimDevice,
        ts: np.ndarray,
        values: np.ndarray,
        clean: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        active = (ts >= f.start) & (ts < f.end)
        if not active.any():
            return
        cols = np.array([i for i, x in enumerate(dev.sensors) if x.name in f.sensors])
        ramp = ((ts - f.start) / (f.end - f.start))[active]
        noise = np.array([dev.sensors[c].noise for c in cols])
        rows = np.flatnonzero(active)
        if f.fault == "spike":
            hit = rows[rng.random(len(rows)) < 0.08]
            sign = rng.choice([-1.0, 1.0], size=(len(hit), len(cols)))
            values[np.ix_(hit, cols)] += sign * noise * rng.uniform(15, 30, size=(len(hit), len(cols)))
        elif f.fault == "drift":
            values[np.ix_(rows, cols)] += np.outer(ramp, noise * 25)
        elif f.fault == "stuck":
            stuck = self._stuck_value(f, dev, cols)
            values[np.ix_(rows, cols)] = stuck
        elif f.fault == "vibration":
            values[np.ix_(rows, cols)] *= 1 + 2.5 * ramp[:, None]
        elif f.fault == "overheat":
            values[np.ix_(rows, cols)] += np.outer(ramp, np.full(len(cols), 18.0))

    def _stuck_value(self, f: Fault, dev: SimDevice, cols: np.ndarray) -> np.ndarray:
        """The noiseless value at the fault's start: a frozen sensor repeats its last reading."""
        s = dev.sensors
        i = int((f.start - self.start) / self.period_ms)
        mode = dev.regime_modes[np.searchsorted(dev.regime_starts, i, side="right") - 1]
        wear = self._wear(dev, np.array([f.start]))[0]
        return np.array([s[c].base + s[c].load * MODE_LOAD[mode] + s[c].wear * wear for c in cols])

    def truth(self) -> dict[str, Any]:
        """Ground truth: devices with failure times, and every injected fault."""
        return {
            "seed": self.seed,
            "start": self.start,
            "end": self.start + int(self.duration * 1000),
            "rate": self.rate,
            "devices": [
                {
                    "device_id": d.device_id,
                    "type": d.type,
                    "location": {"lat": d.location[0], "lon": d.location[1]},
                    "degradation_start": d.degradation_start,
                    "failure": d.failure,
                }
                for d in self.devices
            ],
            "faults": [f.as_dict() for d in self.devices for f in d.faults],
        }


def _touched(dev: SimDevice, kind: str, rng: np.random.Generator) -> tuple[str, ...]:
    """The sensors a fault of ``kind`` shows on: every vibration or hot-side temperature sensor, else one at random."""
    sensors = dev.sensors
    if kind == "vibration":
        return tuple(s.name for s in sensors if s.kind == "vibration")
    if kind == "overheat":
        return tuple(
            s.name for s in sensors if s.kind == "temperature" and "ambient" not in s.name and "inlet" not in s.name
        )
    return (sensors[int(rng.integers(0, len(sensors)))].name,)


_TRANSITIONS = np.array([[0.0, 0.8, 0.2], [0.3, 0.0, 0.7], [0.2, 0.8, 0.0]])
