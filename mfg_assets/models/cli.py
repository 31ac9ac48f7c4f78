"""``mfg-models``: champion/challenger status and rollback of the registered models.

    mfg-models status [maintenance|defect]
    mfg-models rollback maintenance|defect

Uses ``MLFLOW_TRACKING_URI`` or the embedded store (``--tracking-uri`` overrides both). Exit code
2 when the operation is impossible (unknown model, no previous champion to roll back to).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from mfg_assets.models.registry import REGISTERED_MODELS


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from mfg_assets.models.registry import ModelRegistry, RegistryError

    try:
        registry = ModelRegistry(args.tracking_uri)
        if args.command == "rollback":
            name = REGISTERED_MODELS[args.model]
            old, new = registry.rollback(name)
            print(f"{name}: champion rolled back from v{old} to v{new}")
        else:
            models = [args.model] if args.model else list(REGISTERED_MODELS)
            print(f"tracking store: {registry.uri}")
            for model in models:
                _print_status(registry, REGISTERED_MODELS[model])
    except RegistryError as exc:
        print(f"mfg-models: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfg-models", description=__doc__.split("\n")[0])
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="champion and challenger versions and metrics")
    status.add_argument("model", nargs="?", choices=sorted(REGISTERED_MODELS))
    rollback = commands.add_parser("rollback", help="move champion back to the previous one")
    rollback.add_argument("model", choices=sorted(REGISTERED_MODELS))
    return parser


def _print_status(registry: Any, name: str) -> None:
    from mfg_assets.models.registry import RegistryError

    try:
        status = registry.status(name)
    except RegistryError:
        print(f"{name}: not registered")
        return
    print(name)
    for alias, info in status.items():
        if info is None:
            print(f"  {alias:<10} -")
            continue
        tags = info["tags"]
        notes = [f"{k}={tags[k]}" for k in ("previous_champion", "promoted_at") if k in tags]
        print(f"  {alias:<10} v{info['version']}  {'  '.join(notes)}".rstrip())
        metrics = {
            k: v
            for k, v in sorted(info["metrics"].items())
            if k.startswith("test_") and "baseline" not in k and "/" not in k  # no per-class
        }
        if metrics:
            print("             " + "  ".join(f"{k}={v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    sys.exit(main())
