#!/usr/bin/env bash
# Creates the stack's extra databases on first start of the postgres container (mounted into
# /docker-entrypoint-initdb.d). POSTGRES_DB (dagster) is created by the image itself.
#   MFG_EXTRA_DATABASES="mlflow plant feast"   space-separated names
# Idempotent: an existing database is left alone. Also runs outside a container against any
# server psql reaches (PGHOST/PGPORT/PGUSER/PGPASSWORD), which is how the tests exercise it.
set -euo pipefail

for db in ${MFG_EXTRA_DATABASES:-}; do
    if [[ ! "$db" =~ ^[a-z_][a-z0-9_]*$ ]]; then
        echo "create-databases: refusing database name '$db'" >&2
        exit 1
    fi
    exists=$(psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")
    if [[ "$exists" != "1" ]]; then
        echo "create-databases: creating $db"
        psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
            -c "CREATE DATABASE \"$db\" OWNER \"${POSTGRES_USER:-postgres}\""
    fi
done
