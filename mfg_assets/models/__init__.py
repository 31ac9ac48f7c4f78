"""Model code the Dagster assets call: experiment configs, the predictive-maintenance MLP,
MLflow tracking and the model registry. Importing these modules is cheap; torch, mlflow,
sklearn and matplotlib are imported when a function needs them.
"""
