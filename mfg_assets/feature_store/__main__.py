"""Run the Feast CLI on the plant's repo with this platform's configuration.

    python -m mfg_assets.feature_store [--profile embedded|redis|postgres] <feast arguments>

e.g. ``python -m mfg_assets.feature_store apply`` or ``... feature-views list``. The profile's
``feature_store.yaml`` is rendered from :func:`.config.config_dict` (the same settings the Python
API uses) into a private temporary file and passed with ``-f``; ``MFG_DATA_DIR`` and
``MFG_FEAST_PROJECT`` are filled in. The offline mirror is synced first when partitions exist,
so ``feast materialize`` sees current data (note: the Feast CLI's window is inclusive at both
ends; ``store.materialize_window`` is the partition-aligned one).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from mfg_assets.feature_store.config import config_dict
from mfg_assets.feature_store.errors import PartitionsNotFoundError
from mfg_assets.feature_store.names import profile_name, project_name
from mfg_assets.settings import data_dir, subprocess_env

REPO_DIR = Path(__file__).resolve().parent / "repo"


def feast_executable() -> str:
    candidate = Path(sys.executable).parent / "feast"
    return str(candidate) if candidate.exists() else "feast"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfg_assets.feature_store", add_help=True)
    parser.add_argument("--profile", default=None, help="embedded (default), redis or postgres")
    args, feast_args = parser.parse_known_args(argv)
    profile = profile_name(args.profile)
    env = subprocess_env(MFG_DATA_DIR=str(data_dir()), MFG_FEAST_PROJECT=project_name())
    from mfg_assets.feature_store.offline import sync_offline_store

    with contextlib.suppress(PartitionsNotFoundError):  # nothing materialized yet
        sync_offline_store()  # from the local warehouse or the S3 bucket (MFG_STORAGE_URI)
    with tempfile.TemporaryDirectory(prefix="mfg_feast_") as tmp:
        rendered = Path(tmp) / "feature_store.yaml"
        rendered.write_text(yaml.safe_dump(config_dict(profile), sort_keys=False))
        rendered.chmod(0o600)
        command = [feast_executable(), "-c", str(REPO_DIR), "-f", str(rendered), *feast_args]
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
