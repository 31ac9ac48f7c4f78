"""The production profile (deploy/): PostgreSQL instance storage, S3 IO, MLflow server, compose,
Helm — exercised on loopback services (PostgreSQL on 127.0.0.1:5432, an S3 API server)."""
