"""Load a benchmark into a problem frame, from local files or the hub (``datasets``).

Problem frame columns: benchmark, problem_id, problem, gold, answer_type, choices (JSON text or
null), metadata (JSON text).

Local layouts (those in ``../shared/data``):

- JSONL, one problem per line (simpleRL-eval: problem/answer/url/unique_id; QwQ eval: prompt with
  the instruction appended, which is stripped and recorded);
- JSON list of ORZ chat-message records (``prompt: [{"from": "user", "value": ...}]``,
  ``final_answer``);
- MathArena: a directory with ``answers.csv`` (id, answer; leading zeros such as "025" kept) and
  ``problems/<id>.tex``, one problem per file;
- the AIME 1983-2024 CSV (ID, Year, Problem Number, Question, Answer, Part), filtered by year;
- GPQA CSV (Question, Correct Answer, Incorrect Answer 1-3, Record ID) or JSONL with ``choices``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens._optional import import_datasets
from reasonlens.problems.gpqa import choice_row
from reasonlens.problems.registry import BenchmarkSpec, get_spec
from reasonlens.errors import ConfigError, InputError, MissingDependencyError
from reasonlens.records import read_json_records
from reasonlens.traces.model import gold_text, user_text

PROBLEM_SCHEMA: dict[str, pl.DataType] = {
    "benchmark": pl.String, "problem_id": pl.String, "problem": pl.String, "gold": pl.String,
    "answer_type": pl.String, "choices": pl.String, "metadata": pl.String,
}

_INSTRUCTION = re.compile(r"\s*Please reason step by step, and put your final answer within "
                          r"\\boxed\{\}\.?\s*$")
_AIME_URL = re.compile(r"(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")
_AMC_URL = re.compile(r"(\d{4})_AMC_(\w+?)_Problems/Problem_(\d+)")
_PROBLEM_KEYS = ("problem", "question", "Question", "prompt", "input")
_GOLD_KEYS = ("answer", "final_answer", "Answer", "gold", "target", "expected_answer")
_ID_KEYS = ("unique_id", "problem_idx", "ID", "id", "idx")
GPQA_SEED = 0


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, list):  # ORZ / chat prompt
        return user_text(v)
    return v if isinstance(v, str) else str(v)


def _problem_id(rec: dict, index: int) -> str:
    url = rec.get("url")
    if isinstance(url, str):
        m = _AIME_URL.search(url)
        if m:
            return f"{m.group(1)}-{m.group(2)}-{int(m.group(3))}"
        m = _AMC_URL.search(url)
        if m:
            return f"{m.group(1)}-{m.group(2)}-{int(m.group(3))}"
    for k in _ID_KEYS:
        v = rec.get(k)
        if v is not None and not isinstance(v, (dict, list)) and str(v) != "":
            return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    return str(index)


def records_to_frame(records: list[dict], spec: BenchmarkSpec, source: str) -> pl.DataFrame:
    """Normalise raw records (any supported layout) into the problem frame."""
    rows = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        line = i + 1
        if spec.answer_type == "choice":
            rows.append(choice_row(rec, spec.name, source, line, seed=GPQA_SEED))
            continue
        if spec.years is not None and ("Year" in rec or "year" in rec):
            year = int(rec.get("Year", rec.get("year")))
            if not spec.years[0] <= year <= spec.years[1]:
                continue
        problem = next((_text(rec[k]) for k in _PROBLEM_KEYS if rec.get(k) is not None), None)
        if not problem:
            raise InputError("no problem text (looked for " + ", ".join(_PROBLEM_KEYS) + ")",
                             path=source, line=line, field="problem")
        gold = next((gold_text(rec[k]) for k in _GOLD_KEYS if rec.get(k) is not None), None)
        if gold is None or gold == "":
            raise InputError("no gold answer (looked for " + ", ".join(_GOLD_KEYS) + ")",
                             path=source, line=line, field="answer")
        meta: dict[str, Any] = {"source": source, "source_line": line}
        stripped = _INSTRUCTION.sub("", problem)
        if stripped != problem:
            meta["instruction_stripped"] = True
            problem = stripped
        for k in ("url", "subject", "level", "Year", "year", "Part", "problem_type"):
            if rec.get(k) not in (None, ""):
                meta[k.lower()] = rec[k]
        pid = _problem_id(rec, i)
        if pid in seen:
            raise InputError(f"duplicate problem id {pid!r}", path=source, line=line,
                             field="id")
        seen.add(pid)
        rows.append({"benchmark": spec.name, "problem_id": pid, "problem": problem.strip(),
                     "gold": gold, "answer_type": spec.answer_type, "choices": None,
                     "metadata": orjson.dumps(meta, default=str).decode()})
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA)


# --- local files ------------------------------------------------------------------------------

def _read_records(path: Path) -> list[dict]:
    """JSON / JSONL problem files through the one record reader (file, line in errors)."""
    recs = read_json_records(path)
    if not recs:
        raise InputError("no problems in the file", path=str(path))
    return recs


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def _read_matharena(path: Path) -> list[dict]:
    """A MathArena competition directory: answers.csv + problems/<id>.tex."""
    answers = path / "answers.csv"
    comp = path.name
    m = re.match(r"aime_(\d{4})_(I{1,2})$", comp)
    out = []
    with open(answers, newline="", encoding="utf-8") as fh:   # strings: "025" stays "025"
        for line, row in enumerate(csv.DictReader(fh), 2):
            pid = (row.get("id") or "").strip()
            if not pid:
                raise InputError("missing id", path=str(answers), line=line, field="id")
            tex = path / "problems" / f"{pid}.tex"
            if not tex.is_file():
                raise InputError(f"problem file {tex} is missing", path=str(answers), line=line,
                                 field="id")
            ident = f"{m.group(1)}-{m.group(2)}-{int(pid)}" if m else pid
            out.append({"id": ident, "problem": tex.read_text(encoding="utf-8").strip(),
                        "answer": row.get("answer"), "competition": comp})
    return out


def read_local(path: Path) -> list[dict]:
    """Raw records from one local file or MathArena directory."""
    if path.is_dir():
        if (path / "answers.csv").is_file() and (path / "problems").is_dir():
            return _read_matharena(path)
        raise ConfigError(f"{path}: not a MathArena directory (answers.csv + problems/)")
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".json", ".jsonl.gz", ".json.gz")):
        return _read_records(path)
    if name.endswith(".csv"):
        return _read_csv(path)
    if name.endswith(".parquet"):
        return pl.read_parquet(path).to_dicts()
    raise ConfigError(f"{path}: unsupported benchmark file (JSONL, JSON, CSV, parquet or a "
                      "MathArena directory)")


def resolve_local(spec: BenchmarkSpec, source: str | Path) -> list[Path]:
    """The files that make up ``spec`` under ``source`` (a file, a competition directory, or a
    data root such as ``../shared/data``)."""
    p = Path(source).expanduser()
    if not p.exists():
        raise ConfigError(f"benchmark source not found: {p}")
    if p.is_file() or (p / "answers.csv").is_file():
        return [p]
    for parts in spec.local:
        paths = [p / rel for rel in parts]
        if all(x.exists() for x in paths):
            return paths
    raise ConfigError(f"no {spec.name} files under {p}; looked for: "
                      + "; ".join(" + ".join(parts) for parts in spec.local))


def load_local(spec: BenchmarkSpec, source: str | Path) -> pl.DataFrame:
    frames = []
    for path in resolve_local(spec, source):
        frames.append(records_to_frame(read_local(path), spec, str(path)))
    df = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=PROBLEM_SCHEMA)
    dup = df.filter(pl.col("problem_id").is_duplicated())
    if dup.height:
        raise InputError(f"duplicate problem ids across files: "
                         f"{sorted(set(dup['problem_id'].to_list()))[:5]}", path=str(source))
    return df


# --- hub --------------------------------------------------------------------------------------

def load_hub(spec: BenchmarkSpec) -> pl.DataFrame:
    """Read the benchmark from its hub dataset(s) through ``datasets`` (first that loads)."""
    datasets = import_datasets()
    errors = []
    for hub in spec.hub:
        try:
            ds = datasets.load_dataset(hub.path, hub.name, split=hub.split)
        except Exception as exc:  # noqa: BLE001 - network, auth (gated), missing config
            hint = " (gated: accept its terms on the hub and set HF_TOKEN)" if hub.gated else ""
            errors.append(f"{hub.path}{'/' + hub.name if hub.name else ''}: "
                          f"{type(exc).__name__}: {str(exc)[:200]}{hint}")
            continue
        records = [dict(r) for r in ds]
        return records_to_frame(records, spec, f"hf://{hub.path}"
                                + (f"/{hub.name}" if hub.name else "") + f":{hub.split}")
    raise ConfigError(f"could not load {spec.name} from the hub: " + "; ".join(errors)
                      + ". Use local files instead: --benchmark-source PATH (generate, grade) or "
                      "--source PATH (benchmarks).")


def load_benchmark(name: str, source: str | Path | None = None, *,
                   limit: int | None = None) -> pl.DataFrame:
    """Load a registered benchmark.

    Args:
        name: a name from :func:`list_benchmarks` (aliases accepted).
        source: a local file, MathArena directory or data root; None reads the hub dataset.
        limit: keep the first ``limit`` problems.

    Returns:
        The problem frame (benchmark, problem_id, problem, gold, answer_type, choices, metadata).
    """
    spec = get_spec(name)
    if source is None:
        try:
            df = load_hub(spec)
        except MissingDependencyError as exc:
            raise MissingDependencyError(f"{exc}; or pass --benchmark-source PATH") from exc
    else:
        df = load_local(spec, source)
    if limit is not None:
        if limit < 1:
            raise ConfigError("--limit must be >= 1")
        df = df.head(limit)
    return df
