#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Creates the role the services work as: it owns nothing, so it
# cannot alter a schema or rewrite the ledger. The owner ($POSTGRES_USER, DATABASE_MIGRATION_URL)
# migrates and then grants it rows (docs/security.md "The ledger"). A shell script rather than SQL
# so the password comes from the environment; psql's :'password' quotes it as a literal.
set -eu
psql -v ON_ERROR_STOP=1 -v password="${HMS_DB_SERVICE_PASSWORD:?set HMS_DB_SERVICE_PASSWORD}" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE hms_service LOGIN PASSWORD :'password';
SQL
