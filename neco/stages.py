"""One contract for every stage, and the runner that keeps it.

A :class:`Stage` declares the tables it reads (whole, or some columns of them), the
parameters its result depends on, and the tables it writes (declared in
:mod:`neco.catalogue`). :func:`run_stages` runs a list of stages in order and for each one:

1. computes the digest of every input (a table's SHA-256, or a content hash of the columns
   read) and the stage's *key*: a hash of its name, version, parameters, inputs and model
   components;
2. skips the stage when the manifest records the same key and its tables exist
   ("unchanged"); ``force`` runs it anyway;
3. runs it, checks its tables against the catalogue and commits them together with the
   stage's record in one manifest commit (all or nothing; another process changing an input
   meanwhile aborts the commit);
4. records the inputs' digests, parameters, components (with whether their weights are real
   or random test weights), package versions, rows and seconds.

A stage that cannot run here (weights absent, a needed table missing, one community only)
raises :class:`StageSkipped`; its reason is recorded and the later stages go on.

:func:`table_states` says, for every table, whether it is *fresh* (made from the current
state of its inputs) or *stale* (an input changed since, directly or further up).

>>> import pathlib, tempfile, pyarrow as pa
>>> from neco.workspace import Workspace
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "c.csv").write_text("text,community\\nA red kite,birds\\n")
>>> ws = Workspace(folder / "ws")
>>> _ = ws.ingest([folder / "c.csv"])
>>> stage = Stage("demo", inputs=(), outputs=("social/semantic_edges",),
...               run=lambda ctx: StageOutput({"social/semantic_edges": pa.table(
...                   {"source": ["a"], "target": ["b"], "weight": [1.0]})}))
>>> [r.status for r in run_stages(ws, [stage], {})]
['ran']
>>> [r.status for r in run_stages(ws, [stage], {})]
['unchanged']
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neco.catalogue import CATALOGUE, tables_of_stage
from neco.errors import NecoError
from neco.progress import NullProgress, Progress
from neco.versions import package_versions

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from neco.workspace import Workspace


class StageSkipped(NecoError):
    """Raised by a stage that cannot run here; the message says why and how to fix it."""


@dataclass(frozen=True)
class Input:
    """A table a stage reads: whole, or only some of its columns; optional or required."""

    table: str
    columns: tuple[str, ...] | None = None
    optional: bool = False

    @property
    def label(self) -> str:
        return self.table if self.columns is None else f"{self.table}[{','.join(self.columns)}]"


@dataclass
class StageOutput:
    """What a stage made: its tables, a short summary, the components it used."""

    tables: dict[str, pa.Table | pd.DataFrame] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    components: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StageContext:
    """What a running stage gets: the workspace, its parameters, progress, shared models."""

    ws: Workspace
    params: dict[str, Any]
    progress: Progress
    shared: dict[str, Any]
    files: Path | None = None

    def read(self, table: str, columns: Sequence[str] | None = None) -> pa.Table:
        return self.ws.read_table(table, columns)

    def frame(self, table: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self.ws.read_table(table, columns).to_pandas()

    def has(self, table: str) -> bool:
        return table in self.ws.manifest().get("tables", {})

    def staging(self) -> Path:
        """A folder for side files (graph exports), moved into the workspace on commit."""
        if self.files is None:
            self.files = self.ws.staging_dir()
        return self.files

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """An object shared by the stages of one run (a loaded model), made once."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]


@dataclass(frozen=True)
class Stage:
    """A stage: name, inputs, parameters it depends on, output tables and its function.

    ``params`` names the run parameters whose values change the result; ``version`` is
    raised when the stage's code changes its results, so old results become stale.
    ``components`` returns identifiers of the model components the stage would use (without
    loading them), which enter the key.
    """

    name: str
    inputs: tuple[Input, ...]
    outputs: tuple[str, ...]
    run: Callable[[StageContext], StageOutput]
    params: tuple[str, ...] = ()
    version: int = 1
    components: Callable[[dict[str, Any]], list[str]] | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        undeclared = [t for t in self.outputs if t not in CATALOGUE]
        if undeclared:
            raise ValueError(f"stage {self.name} writes undeclared tables {undeclared}")


@dataclass
class StageReport:
    """How one stage went: ``ran``, ``unchanged``, ``skipped`` (with the reason)."""

    name: str
    status: str
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "seconds": round(self.seconds, 2)}
        if self.reason:
            out["reason"] = self.reason
        out.update(self.summary)
        return out


def _hash(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def input_digests(ws: Workspace, stage: Stage) -> dict[str, str | None]:
    """The current digest of each input of ``stage`` (None for a missing table)."""
    out: dict[str, str | None] = {}
    for item in stage.inputs:
        if item.columns is None:
            out[item.label] = ws.table_digest(item.table)
        else:
            out[item.label] = ws.column_digest(item.table, item.columns)
    return out


def stage_key(
    stage: Stage,
    params: Mapping[str, Any],
    digests: Mapping[str, str | None],
    components: list[str],
) -> str:
    """The hash that decides whether ``stage`` must run again."""
    return _hash(
        {
            "stage": stage.name,
            "version": stage.version,
            "params": {p: params.get(p) for p in stage.params},
            "inputs": dict(digests),
            "components": components,
        }
    )


def run_stages(
    ws: Workspace,
    stages: Iterable[Stage],
    params: Mapping[str, Any],
    *,
    progress: Progress | None = None,
    force: bool = False,
    shared: dict[str, Any] | None = None,
) -> list[StageReport]:
    """Run ``stages`` in order on ``ws`` (see the module docstring); one report each."""
    progress = progress or NullProgress()
    ws.require()
    shared = {} if shared is None else shared
    reports = []
    for stage in stages:
        reports.append(_run_one(ws, stage, dict(params), progress, force, shared))
    return reports


def _run_one(
    ws: Workspace,
    stage: Stage,
    params: dict[str, Any],
    progress: Progress,
    force: bool,
    shared: dict[str, Any],
) -> StageReport:
    start = time.perf_counter()
    digests = input_digests(ws, stage)
    missing = [i.table for i in stage.inputs if not i.optional and digests[i.label] is None]
    if missing:
        reason = (
            f"needs the table(s) {', '.join(missing)}, made by "
            f"{', '.join(sorted({CATALOGUE[t].stage for t in missing if t in CATALOGUE}))}"
        )
        return _record_skip(ws, stage, params, digests, [], reason, start, key=None)
    try:
        components = stage.components(params) if stage.components else []
    except StageSkipped as exc:
        return _record_skip(ws, stage, params, digests, [], str(exc), start, key=None)
    key = stage_key(stage, params, digests, components)
    previous = ws.manifest().get("stages", {}).get(stage.name, {})
    tables = ws.manifest().get("tables", {})
    if (
        not force
        and previous.get("key") == key
        and (
            previous.get("status") == "skipped"
            or all(t in tables for t in previous.get("rows", {}))
        )
    ):
        summary = dict(previous.get("summary", {}))
        return StageReport(
            stage.name,
            "skipped" if previous.get("status") == "skipped" else "unchanged",
            time.perf_counter() - start,
            summary,
            reason=previous.get("reason"),
        )
    context = StageContext(ws, params, progress, shared)
    table_digests = {i.table: ws.table_digest(i.table) for i in stage.inputs}
    try:
        output = stage.run(context)
    except StageSkipped as exc:
        return _record_skip(ws, stage, params, digests, components, str(exc), start, key=key)
    unknown = sorted(set(output.tables) - set(stage.outputs))
    if unknown:
        raise ValueError(f"stage {stage.name} returned undeclared outputs {unknown}")
    seconds = time.perf_counter() - start
    record = {
        "status": "ran",
        "key": key,
        "version": stage.version,
        "inputs": digests,
        "params": {p: params.get(p) for p in stage.params},
        "components": output.components or [{"id": c} for c in components],
        "package_versions": package_versions(),
        "rows": {name: _rows(t) for name, t in output.tables.items()},
        "seconds": round(seconds, 2),
        "summary": output.summary,
    }
    ws.commit_stage(
        stage.name,
        output.tables,
        record,
        replaces=[t for t in stage.outputs if t not in output.tables],
        expect=table_digests,
        files=context.files,
    )
    return StageReport(stage.name, "ran", seconds, output.summary)


def _rows(table: Any) -> int:
    return int(table.num_rows) if hasattr(table, "num_rows") else len(table)


def _record_skip(
    ws: Workspace,
    stage: Stage,
    params: dict[str, Any],
    digests: dict[str, str | None],
    components: list[str],
    reason: str,
    start: float,
    key: str | None,
) -> StageReport:
    """Record that ``stage`` was skipped; its earlier tables stay, and read as stale."""
    previous = ws.manifest().get("stages", {}).get(stage.name, {})
    if previous.get("status") == "skipped" and previous.get("reason") == reason:
        return StageReport(stage.name, "skipped", time.perf_counter() - start, reason=reason)
    ws.record_stage(
        stage.name,
        {
            "status": "skipped",
            "key": key,
            "reason": reason,
            "inputs": digests,
            "params": {p: params.get(p) for p in stage.params},
            "components": [{"id": c} for c in components],
            # The tables an earlier run made are kept; freshness compares their inputs.
            "made": previous.get("made") or _made(previous),
        },
    )
    return StageReport(stage.name, "skipped", time.perf_counter() - start, reason=reason)


def _made(previous: dict[str, Any]) -> dict[str, Any] | None:
    if previous.get("status") != "ran":
        return None
    return {"inputs": previous.get("inputs", {}), "rows": previous.get("rows", {})}


# --------------------------------------------------------------------------- freshness


@dataclass
class TableState:
    """A table as ``neco tables`` shows it."""

    name: str
    stage: str
    rows: int
    state: str  # fresh | stale | no record
    why: str = ""
    inputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "stage": self.stage,
            "rows": self.rows,
            "state": self.state,
            "why": self.why,
            "inputs": self.inputs,
        }


def table_states(ws: Workspace, stages: Sequence[Stage] | None = None) -> list[TableState]:
    """Every table of the workspace, fresh or stale, with the stage that made it."""
    stages = list(stages) if stages is not None else all_stages()
    by_name = {s.name: s for s in stages}
    manifest = ws.require().manifest()
    records = manifest.get("stages", {})
    digest_cache: dict[str, str | None] = {}
    stale_stages: dict[str, str] = {}

    def current(stage: Stage) -> dict[str, str | None]:
        out = {}
        for item in stage.inputs:
            if item.label not in digest_cache:
                digest_cache[item.label] = (
                    ws.table_digest(item.table)
                    if item.columns is None
                    else ws.column_digest(item.table, item.columns)
                )
            out[item.label] = digest_cache[item.label]
        return out

    def staleness(name: str) -> str:
        if name in stale_stages:
            return stale_stages[name]
        stage = by_name.get(name)
        record = records.get(name, {})
        made = record if record.get("status") == "ran" else record.get("made") or {}
        why = ""
        if stage is not None and made:
            recorded = made.get("inputs", {})
            now = current(stage)
            changed = [label for label, digest in now.items() if recorded.get(label) != digest]
            if changed:
                why = f"{', '.join(changed)} changed since it ran"
            else:
                for item in stage.inputs:
                    upstream = CATALOGUE[item.table].stage if item.table in CATALOGUE else None
                    if upstream and upstream in by_name and digest_cache.get(item.label):
                        up = staleness(upstream)
                        if up:
                            why = f"{item.table} is stale ({up})"
                            break
        stale_stages[name] = why
        return why

    # A table whose parts differ from what the manifest recorded was changed outside neco.
    damaged = ws.verify()
    out = []
    for name, entry in sorted(manifest.get("tables", {}).items()):
        spec = CATALOGUE.get(name)
        stage_name = entry.get("stage") or (spec.stage if spec else "?")
        stage = by_name.get(stage_name)
        if name in damaged:
            fix = (
                "ingest the sources into a new workspace"
                if stage_name in ("ingest", None)
                else "rerun its stage with --force"
            )
            state = "stale"
            why = f"changed outside neco: {'; '.join(damaged[name])}; {fix}"
        elif stage_name == "ingest" or stage_name is None:
            state, why = "fresh", ""
        elif stage_name not in records:
            state, why = "no record", "made by an older neco or outside a stage"
        else:
            why = staleness(stage_name)
            state = "stale" if why else "fresh"
        out.append(
            TableState(
                name,
                stage_name,
                int(entry.get("rows", 0)),
                state,
                why,
                [i.label for i in stage.inputs] if stage else [],
            )
        )
    return out


def stale_tables(ws: Workspace, names: Iterable[str]) -> dict[str, str]:
    """Of ``names``, those that are stale, with why (for commands that read them)."""
    wanted = set(names)
    return {s.name: s.why for s in table_states(ws) if s.name in wanted and s.state == "stale"}


def all_stages() -> list[Stage]:
    """Every stage neco knows, in the order a full run takes them."""
    from neco.neural.pipeline import NEURAL_STAGES
    from neco.sample import SAMPLE_STAGE
    from neco.social.pipeline import SOCIAL_STAGES
    from neco.survival.ledger import SURVIVAL_STAGE

    return [*SOCIAL_STAGES[:1], SAMPLE_STAGE, *SOCIAL_STAGES[1:], *NEURAL_STAGES, SURVIVAL_STAGE]


def stage_names() -> list[str]:
    return [s.name for s in all_stages()]


def undeclared_outputs() -> list[str]:
    """Tables declared for a stage that no stage writes (a test keeps this empty)."""
    written = {t for s in all_stages() for t in s.outputs}
    stages = {s.name for s in all_stages()} | {"ingest", "survival"}
    return [
        name
        for name, spec in CATALOGUE.items()
        if name not in written and spec.stage not in {"ingest"} and spec.stage in stages
    ] + [name for name, spec in CATALOGUE.items() if spec.stage not in stages]


__all__ = [
    "Input",
    "Stage",
    "StageContext",
    "StageOutput",
    "StageReport",
    "StageSkipped",
    "TableState",
    "run_stages",
    "stale_tables",
    "table_states",
    "tables_of_stage",
]
