"""The ingest report: what was read, accepted, rejected and repaired, source by source."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neco.corpus.build import SourceResult


@dataclass
class SourceReport:
    """What happened to one source. ``status`` is ``ingested`` or ``unchanged``."""

    key: str
    path: str
    status: str
    sha256: str
    format: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    communities: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class IngestReport:
    """The report of one ingest call (one or more sources).

    ``accepted + rejected == rows_read`` holds for every source and for the total.
    """

    workspace: str | None
    sources: list[SourceReport]

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sources)

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.sources)

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.sources)

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for s in self.sources:
            total.update(s.rejected_by_reason)
        return dict(total.most_common())

    @property
    def repairs(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for s in self.sources:
            total.update(s.repairs)
        return dict(total.most_common())

    @property
    def communities(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for s in self.sources:
            total.update(s.communities)
        return dict(sorted(total.items()))

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-able values."""
        return {
            "workspace": self.workspace,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejected_by_reason": self.rejected_by_reason,
            "repairs": self.repairs,
            "communities": self.communities,
            "sources": [asdict(s) for s in self.sources],
        }


def source_report(result: SourceResult, sha: str, resolved: str) -> SourceReport:
    """The report of one source just read: ``sha`` is its SHA-256, ``resolved`` its path.

    Communities and reasons are sorted by name, so that two reports of the same source
    compare equal.
    """
    communities = {str(name): int(n) for name, n in result.communities.items()}
    return SourceReport(
        key=result.key,
        path=resolved,
        status="ingested",
        sha256=sha,
        format=result.format,
        encoding=result.encoding,
        columns=result.columns,
        rows_read=result.rows_read,
        accepted=result.accepted_rows,
        rejected=result.rejected_rows,
        rejected_by_reason=dict(sorted(result.rejected_by_reason.items())),
        repairs=dict(result.repairs),
        communities=dict(sorted(communities.items())),
        notes=result.notes,
        seconds=round(result.seconds, 3),
    )
