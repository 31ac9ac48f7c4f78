"""Importers of outside plant data into the plant database's landing tables.

Each format is a function ``(folder, database URL, replace=...) -> ImportReport``;
``mfg-plant import <format> DIR [--db URL]`` runs one. Every import replaces the database's
plant in one transaction and accounts for every source row (read, written, refused + why).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mfg_assets.plant.importers.azure_pdm import import_azure_pdm
from mfg_assets.plant.importers.neu_det import import_neu_det
from mfg_assets.plant.importers.report import FileReport, ImportRefused, ImportReport
from mfg_assets.plant.importers.voc_folder import import_voc

Importer = Callable[..., ImportReport]

IMPORTERS: dict[str, Importer] = {
    "azure-pdm": import_azure_pdm,
    "neu-det": import_neu_det,
    "voc": import_voc,
}


def run_import(format_name: str, source: Path, url: str, *, replace: bool = False) -> ImportReport:
    """Run the importer of ``format_name``."""
    if format_name not in IMPORTERS:
        raise ValueError(f"unknown import format {format_name!r}; use {', '.join(IMPORTERS)}")
    return IMPORTERS[format_name](source, url, replace=replace)


__all__ = ["IMPORTERS", "FileReport", "ImportRefused", "ImportReport", "run_import"]
