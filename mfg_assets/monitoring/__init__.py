"""Drift and performance monitoring: plain functions the Dagster monitoring assets call.

``drift`` (Evidently feature drift), ``images`` (image-statistics and defect-mix drift) and
``performance`` (model metrics on recent labels vs evaluation). Importing this package is light:
Evidently (~10 s to import) and sklearn load inside the functions that need them.
"""
