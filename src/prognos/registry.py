"""The model registry: immutable numbered versions, movable aliases, artifacts checked at every load.

Metadata lives in the store's database (records of kind ``model-version`` and ``model-alias``), so a
PostgreSQL deployment shares one registry between processes; artifact files live under ``root``,
one read-only folder per version. A version is never rewritten: publishing claims the next number
with an insert-only record, and two publishers racing for it simply take the next one.

An alias keeps its history, so `rollback` moves it back to the version it pointed at before.
A model's traffic policy (a canary share for one alias, a shadow alias) is a record too, so every
server replica follows the same one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from prognos import contract
from prognos.errors import Conflict, IntegrityError, InvalidInput, ModelNotFound
from prognos.store import Records

VERSION, ALIAS, TRAFFIC = "model-version", "model-alias", "model-traffic"
CHAMPION = "champion"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
FILES = ("model.onnx", "model.int8.onnx", "model.pt", "card.json")


@dataclass(frozen=True)
class Version:
    name: str
    version: int
    created_ms: int
    path: str  # the folder holding the files
    files: dict[str, str]  # file name → sha256 at publish
    card: dict[str, Any]
    source: str
    archived: bool = False
    aliases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Registry:
    def __init__(self, store: Records, root: str | Path) -> None:
        self.store = store
        self.root = Path(root)

    # -- publish ------------------------------------------------------------------------------
    def publish(self, source: str | Path, name: str | None = None, io: dict[str, Any] | None = None) -> Version:
        """Register an artifact folder (``prognos train`` output) or a bare ``.onnx`` file as the next version."""
        source = Path(source)
        card = _card(source, io or {})
        name = name or card.get("name")
        if not name or not NAME.match(name):
            raise InvalidInput(
                f"model name {name!r}: expected lower-case letters, digits, '.', '_' or '-' (≤ 64)",
                field="name",
                value=name,
            )
        files = [source / f for f in FILES if (source / f).is_file()] if source.is_dir() else [source]
        number = 0
        for _ in range(100):
            number = max(self._next(name), number + 1)  # no gaps: skip only numbers someone else holds
            folder = self.root / name / str(number)
            if folder.exists():
                continue  # a publisher that lost the race (or crashed) left it: never overwrite
            staging = self.root / name / f".staging-{number}-{time.time_ns()}"
            staging.mkdir(parents=True)
            digests = {}
            for f in files:
                target = staging / ("model.onnx" if f.suffix == ".onnx" and not source.is_dir() else f.name)
                shutil.copyfile(f, target)
                digests[target.name] = sha256(target)
            (staging / "card.json").write_text(json.dumps(card, indent=1, sort_keys=True))
            digests["card.json"] = sha256(staging / "card.json")
            try:
                staging.rename(folder)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
                continue
            for f in folder.iterdir():
                f.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            v = Version(name, number, int(time.time() * 1000), str(folder), digests, card, str(source))
            if self.store.put_record(VERSION, _key(name, number), v.to_dict()):
                return v
        raise Conflict(f"model {name!r}: could not claim a version number (100 attempts)")

    # -- read ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted({k.split("/")[0] for k, _ in self.store.records(VERSION)})

    def versions(self, name: str) -> list[Version]:
        aliases = self.aliases(name)
        out = []
        for _, doc in self.store.records(VERSION, f"{name}/"):
            doc["aliases"] = sorted(a for a, v in aliases.items() if v == doc["version"])
            out.append(Version(**doc))
        if not out:
            raise ModelNotFound(f"model {name!r} not found")
        return out

    def aliases(self, name: str) -> dict[str, int]:
        return {k.split("@", 1)[1]: d["version"] for k, d in self.store.records(ALIAS, f"{name}@")}

    def get(self, name: str, ref: str | int | None = None) -> Version:
        """A version by number, by alias, or (no ref) the champion."""
        versions = {v.version: v for v in self.versions(name)}
        if ref is None:
            ref = CHAMPION
        if isinstance(ref, int) or str(ref).isdigit():
            number = int(ref)
        else:
            number = self.aliases(name).get(str(ref), -1)
            if number < 0:
                raise ModelNotFound(f"model {name!r} has no alias {ref!r} (aliases: {sorted(self.aliases(name))})")
        if number not in versions:
            raise ModelNotFound(f"model {name!r} has no version {number} (versions: {sorted(versions)})")
        return versions[number]

    def verify(self, v: Version) -> Path:
        """The version's folder, after checking every file against its recorded sha256."""
        folder = Path(v.path)
        for file, digest in v.files.items():
            path = folder / file
            if not path.is_file():
                raise IntegrityError(f"model {v.name} v{v.version}: {file} is missing from {folder}")
            if sha256(path) != digest:
                raise IntegrityError(f"model {v.name} v{v.version}: {file} does not match its checksum: refusing it")
        return folder

    # -- move ---------------------------------------------------------------------------------
    def promote(self, name: str, version: int, alias: str = CHAMPION) -> Version:
        if not ALIAS_NAME.match(alias):
            raise InvalidInput(f"alias {alias!r}: expected a lower-case word", field="alias", value=alias)
        v = self.get(name, int(version))
        if v.archived:
            raise Conflict(f"model {name!r} v{version} is archived: it cannot take alias {alias!r}")
        self.verify(v)  # an alias never points at files that fail their checksum (IntegrityError: it stays)
        history = self.history(name, alias)
        if not history or history[-1] != v.version:
            history.append(v.version)
        self.store.put_record(ALIAS, f"{name}@{alias}", {"version": v.version, "history": history}, replace=True)
        return replace(v, aliases=sorted({*v.aliases, alias}))

    def rollback(self, name: str, alias: str = CHAMPION) -> Version:
        """Move ``alias`` back to the version it pointed at before the last promotion."""
        history = self.history(name, alias)
        if len(history) < 2:
            raise Conflict(f"model {name!r}: alias {alias!r} has no earlier version to roll back to")
        self.verify(self.get(name, history[-2]))
        history.pop()
        self.store.put_record(ALIAS, f"{name}@{alias}", {"version": history[-1], "history": history}, replace=True)
        return self.get(name, history[-1])

    def archive(self, name: str, version: int) -> Version:
        v = self.get(name, int(version))
        if v.aliases:
            raise Conflict(f"model {name!r} v{version} carries {', '.join(v.aliases)}: move the alias first")
        doc = {**v.to_dict(), "archived": True}
        doc.pop("aliases")
        self.store.put_record(VERSION, _key(name, v.version), doc, replace=True)
        return self.get(name, v.version)

    # -- traffic ------------------------------------------------------------------------------
    def traffic(self, name: str) -> dict[str, Any]:
        """``{"canary": alias|None, "weight": 0..1, "shadow": alias|None}``: who besides the champion gets requests."""
        found = dict(self.store.records(TRAFFIC, name))
        return found.get(name, {"canary": None, "weight": 0.0, "shadow": None})

    def set_traffic(
        self, name: str, canary: str | None = None, weight: float = 0.0, shadow: str | None = None
    ) -> dict[str, Any]:
        """Send ``weight`` of the devices to alias ``canary`` and a copy of all traffic to alias ``shadow``."""
        aliases = self.aliases(name) if self.versions(name) else {}
        for role, alias in (("canary", canary), ("shadow", shadow)):
            if alias is not None and alias not in aliases:
                raise InvalidInput(
                    f"{role}: model {name!r} has no alias {alias!r} (aliases: {sorted(aliases)})",
                    field=role,
                    value=alias,
                )
            if alias == CHAMPION:
                raise InvalidInput(f"{role}: the champion already serves; name another alias", field=role, value=alias)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0.0 <= weight <= 1.0:
            raise InvalidInput(f"weight: expected a number from 0 to 1, got {weight!r}", field="weight", value=weight)
        if canary is None and weight:
            raise InvalidInput("weight: a canary share needs a canary alias", field="canary", value=None)
        doc = {"canary": canary, "weight": float(weight), "shadow": shadow}
        self.store.put_record(TRAFFIC, name, doc, replace=True)
        return doc

    def history(self, name: str, alias: str) -> list[int]:
        """The versions ``alias`` has pointed at, oldest first (the last is the current one)."""
        found = dict(self.store.records(ALIAS, f"{name}@{alias}"))
        return list(found.get(f"{name}@{alias}", {}).get("history", []))

    def _next(self, name: str) -> int:
        return max((d["version"] for _, d in self.store.records(VERSION, f"{name}/")), default=0) + 1


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _key(name: str, version: int) -> str:
    return f"{name}/{version:08d}"  # zero-padded: records come back in version order


def _card(source: Path, io: dict[str, Any]) -> dict[str, Any]:
    """The artifact's own card, or for a bare ONNX file one read from its graph (``io`` overrides), checked
    against the graph: ONNX Runtime must load it, and the card must promise what the graph does (`contract`)."""
    if source.is_dir():
        if not (source / "card.json").is_file() or not (source / "model.onnx").is_file():
            raise InvalidInput(
                f"{source}: not a model artifact (needs card.json and model.onnx)", field="source", value=str(source)
            )
        try:
            card: dict[str, Any] = json.loads((source / "card.json").read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{source}/card.json: not JSON ({exc})", field="card.json", value=str(source)) from None
        inputs, outputs = contract.graph(source / "model.onnx")
    elif source.suffix != ".onnx" or not source.is_file():
        raise InvalidInput(f"{source}: expected an artifact folder or an .onnx file", field="source", value=str(source))
    else:
        inputs, outputs = contract.graph(source)
        card = {
            "task": io.get("task", "custom"),
            "inputs": io.get("inputs", inputs),
            "outputs": io.get("outputs", outputs),
            "input": {"shape": inputs[0]["shape"], "sensors": io.get("sensors")},
            "name": io.get("name"),
            "source": "bring-your-own",
        }
    contract.check(card, inputs, outputs, str(source))
    return card
