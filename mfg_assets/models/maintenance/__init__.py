"""Predictive maintenance: an MLP predicting a machine failure within the next H hours.

``training.train_maintenance_model`` → ``evaluation.evaluate`` →
``packaging.log_maintenance_model`` → ``mfg_assets.models.registry``.
"""
