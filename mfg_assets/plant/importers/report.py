"""What an import read, wrote and refused, per source file, with the reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

EXAMPLE_LINES = 3  # line numbers kept per refusal reason


@dataclass
class FileReport:
    """One source file: rows read, rows written and refused rows per reason."""

    file: str
    read: int = 0
    written: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int | str]] = field(default_factory=dict)  # reason → lines/files
    error: str | None = None  # set when the whole file is refused

    @property
    def refused_rows(self) -> int:
        return sum(self.refused.values())

    def refuse(self, reason: str, lines: list[int] | list[str], count: int) -> None:
        self.refused[reason] += count
        self.examples.setdefault(reason, []).extend(lines[:EXAMPLE_LINES])


@dataclass
class ImportReport:
    """A whole import: the plant, the target database and each file's accounting."""

    plant: str
    source: str
    db: str
    files: list[FileReport] = field(default_factory=list)
    written_rows: dict[str, int] = field(default_factory=dict)  # landing table → rows
    time_range: tuple[str, str] | None = None
    seconds: float = 0.0

    def file(self, name: str) -> FileReport:
        for report in self.files:
            if report.file == name:
                return report
        raise KeyError(name)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per file and refusal reason."""
        out = [f"import {self.plant} from {self.source} into {self.db}"]
        width = max((len(f.file) for f in self.files), default=4)
        for f in self.files:
            if f.error:
                out.append(f"  {f.file:<{width}}  REFUSED: {f.error}")
                continue
            out.append(
                f"  {f.file:<{width}}  read {f.read:>9,}  written {f.written:>9,}  "
                f"refused {f.refused_rows:>7,}"
            )
            for reason, count in f.refused.most_common():
                examples = f.examples.get(reason, [])
                where = "e.g." if examples and isinstance(examples[0], str) else "lines"
                listed = ", ".join(map(str, examples))
                out.append(f"  {'':<{width}}    {count:>7,} × {reason} ({where} {listed}, ...)")
        if self.written_rows:
            tables = ", ".join(f"{n:,} {t}" for t, n in self.written_rows.items())
            out.append(f"  landing tables: {tables}")
        if self.time_range:
            out.append(f"  readings {self.time_range[0]} .. {self.time_range[1]} (UTC)")
        if self.seconds:
            out.append(f"  took {self.seconds:.1f} s")
        return out


class ImportRefused(ValueError):
    """A source file cannot be imported (missing, unreadable, wrong columns); nothing written."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report
