"""Dagster definitions: thin wrappers that call the plain plant, feature and model code."""

import warnings

import dagster as dg

# Deliberate use of beta APIs (single-run backfill policy, nonexistent upstream partitions for
# trailing windows); the warnings would repeat on every code-location load.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
