"""``--smoke``: every bench runs to completion at a tiny size (mfg_assets_tests/bench checks it)."""

from __future__ import annotations

import argparse
from typing import Any


def parse_args(parser: argparse.ArgumentParser, **tiny: Any) -> argparse.Namespace:
    """The bench's arguments, with a ``--smoke`` flag that replaces them by ``tiny`` sizes.

    A smoke run measures nothing worth reading: it proves the bench still runs end to end.
    """
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: check the bench still runs (no timing)"
    )
    args = parser.parse_args()
    if args.smoke:
        unknown = sorted(set(tiny) - set(vars(args)))
        if unknown:
            raise SystemExit(f"--smoke sets unknown options: {unknown}")
        for name, value in tiny.items():
            setattr(args, name, value)
    return args
