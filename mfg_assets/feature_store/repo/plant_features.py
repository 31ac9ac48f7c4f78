"""Feast repo definitions for ``feast apply`` / ``feast feature-views list`` in this folder.

The objects come from :func:`mfg_assets.feature_store.definitions.build_definitions`, the same
function the Python API applies, so CLI and code register identical specs. The FileSource path
is ``<MFG_DATA_DIR>/feature_store/offline/machine_hourly_features``.
"""

from mfg_assets.feature_store.definitions import build_definitions
from mfg_assets.settings import get_settings

if get_settings().mfg_data_dir is None:
    raise RuntimeError(
        "set MFG_DATA_DIR (absolute path of the platform's data directory) before running feast "
        "here, or use `python -m mfg_assets.feature_store <feast args>`"
    )

_definitions = build_definitions()

machine = _definitions.entity
machine_hourly_features_source = _definitions.source
machine_hourly_features = _definitions.feature_view
maintenance_model_v1 = _definitions.feature_service
