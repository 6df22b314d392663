"""Readers' checks of stage outputs (see :mod:`reasonlens.io`): one run per directory, one
set of inputs across score / grade / judge."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reasonlens.errors import InputError
from reasonlens.io import MANIFEST, parquet_provenance, read_json

SAME_INPUT_KINDS = ("score", "grade", "judge", "traces")


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    p = Path(path) / MANIFEST
    if not p.exists():
        return None
    try:
        m = read_json(p)
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable manifest: {exc}", path=str(p)) from exc
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict):
        raise InputError("not a reasonlens manifest", path=str(p))
    return m


def _provenances(d: Path, names: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in names:
        p = d / name
        if not p.is_file():
            continue
        try:
            if name.endswith(".parquet"):
                prov = parquet_provenance(p)
            elif name.endswith(".json") and name != MANIFEST:
                obj = read_json(p)
                prov = obj.get("provenance") if isinstance(obj, dict) else None
            else:
                continue
        except Exception:  # noqa: BLE001 - an unreadable file is reported by its reader
            continue
        if isinstance(prov, dict) and not prov.get("partial"):
            out.append((name, prov))
    return out


def check_stage_dir(path: str | Path) -> dict[str, Any] | None:
    """Check one stage directory is one run's complete output; return its manifest (or None).

    Raises InputError for a mixed directory (see the module docstring)."""
    d = Path(path)
    if not d.is_dir():
        raise InputError("no such directory", path=str(d))
    manifest = read_manifest(d)
    names = sorted(p.name for p in d.iterdir() if p.is_file())
    if manifest is not None:
        for name, size in manifest["files"].items():
            f = d / name
            if not f.is_file():
                raise InputError(f"file {name} listed in the manifest is missing: the directory "
                                 "is incomplete; rerun the stage", path=str(d))
            if isinstance(size, int) and f.stat().st_size != size:
                raise InputError(f"file {name} differs from the manifest ({f.stat().st_size} "
                                 f"bytes, manifest {size}): it was changed after the run; rerun "
                                 "the stage", path=str(d))
    provs = _provenances(d, names)
    run_ids = {p.get("run_id") for _, p in provs}
    if manifest is not None and manifest.get("run_id"):
        run_ids.add(manifest["run_id"])
    run_ids.discard(None)
    if len(run_ids) > 1:
        raise InputError(f"holds files of different runs ({_describe(provs)}); rerun the stage "
                         "into a fresh --out", path=str(d))
    if not run_ids:  # outputs older than run ids: the provenance blocks must agree
        keys = {(p.get("created_utc"), tuple(p.get("argv") or ())) for _, p in provs}
        if len(keys) > 1:
            raise InputError(f"holds files of different runs ({_describe(provs)}); rerun the "
                             "stage into a fresh --out", path=str(d))
    return manifest


def _describe(provs: list[tuple[str, dict[str, Any]]]) -> str:
    return "; ".join(f"{n}: {p.get('run_id') or p.get('created_utc')}" for n, p in provs[:4])


def input_hashes(prov: dict[str, Any] | None) -> frozenset[str] | None:
    """The input hashes recorded in a provenance block (None when it records none)."""
    if not prov:
        return None
    hashes = set()
    for rec in prov.get("inputs") or []:
        h = rec.get("hash") if isinstance(rec, dict) else None
        if isinstance(h, str) and h:
            hashes.add(h.split(":first")[0] if ":first" in h else h)
    return frozenset(hashes) or None


def check_same_inputs(items: Iterable[tuple[str, Path | str, dict[str, Any] | None]]) -> None:
    """Refuse score / grade / judge outputs computed from different inputs.

    ``items`` are ``(kind, path, provenance)``; several outputs of one kind are pooled (one
    score directory per model is fine). Kinds whose provenance records no input hash are
    skipped (nothing to compare)."""
    by_kind: dict[str, set[str]] = {}
    where: dict[str, list[str]] = {}
    for kind, path, prov in items:
        if kind not in SAME_INPUT_KINDS:
            continue
        hashes = input_hashes(prov) if kind != "traces" else None
        if kind == "traces":
            from reasonlens.provenance import file_hash

            hashes = frozenset({file_hash(path)})
        if hashes is None:
            continue
        by_kind.setdefault(kind, set()).update(hashes)
        where.setdefault(kind, []).append(str(path))
    kinds = sorted(by_kind)
    for a, b in zip(kinds, kinds[1:]):
        if _algorithms(by_kind[a]) != _algorithms(by_kind[b]):
            continue  # outputs of versions hashing with another algorithm: nothing to compare
        if by_kind[a] != by_kind[b]:
            raise InputError(
                f"the {a} output ({', '.join(where[a])}) and the {b} output "
                f"({', '.join(where[b])}) were computed from different inputs (input hashes "
                "differ); rerun them on the same trace files, or pass them to separate reports",
                path=where[b][0])


def _algorithms(hashes: set[str]) -> frozenset[str]:
    """``sha256`` / ``b2`` (the prefix of each hash)."""
    return frozenset(h.split(":", 1)[0] for h in hashes)
