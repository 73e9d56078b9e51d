"""The NBFC payments engine's runtime code (Python Lambdas).

`migrations/` holds the PostgreSQL schema as ordered SQL files, `db/migrate.py` applies them,
and `handlers/migrate.py` is the CloudFormation custom resource that runs them on deploy.
"""
