"""``mfg-plant import <format> DIR [--db URL] [--replace]``: the subcommand's parser and handler."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mfg_assets.plant.importers import IMPORTERS, ImportRefused, run_import


def _import(args: argparse.Namespace) -> None:
    try:
        report = run_import(args.format, Path(args.dir), args.db, replace=args.replace)
    except ImportRefused as exc:
        print("\n".join(exc.report.lines()), file=sys.stderr)
        raise
    print("\n".join(report.lines()))


def add_import_command(commands: argparse._SubParsersAction, db_help: str) -> None:
    """Register ``import`` on the ``mfg-plant`` subcommands."""
    parser = commands.add_parser(
        "import",
        help="load outside data into the plant database (replaces its plant)",
        description="Import a folder of source files into the plant database's landing "
        "tables in one transaction; prints rows read, written and refused (with reasons).",
    )
    parser.add_argument("format", choices=sorted(IMPORTERS), help="source format")
    parser.add_argument("dir", help="folder holding the source files")
    parser.add_argument("--db", help=db_help)
    parser.add_argument(
        "--replace", action="store_true", help="overwrite a database holding another plant"
    )
    parser.set_defaults(handler=_import)
