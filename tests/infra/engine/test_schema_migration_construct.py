"""The schema-migration custom resource: updated exactly when the migration files change."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from cdk_constructs.schema_migration import (
    SchemaMigration,
    SchemaMigrationProps,
    migrations_hash,
)

ENGINE_MIGRATIONS = Path(__file__).resolve().parents[3] / "lambda_src" / "engine" / "migrations"


def _template(directory: Path) -> Template:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="ap-south-1"))
    migrator = lambda_.Function.from_function_arn(
        stack, "Migrator", "arn:aws:lambda:ap-south-1:111111111111:function:migrator"
    )
    SchemaMigration(stack, "Migration", SchemaMigrationProps(migrator, directory))
    return Template.from_stack(stack)


def test_the_resource_carries_the_hash_of_the_engine_migrations() -> None:
    template = _template(ENGINE_MIGRATIONS)

    template.has_resource_properties(
        "Custom::DatabaseSchema",
        {
            "ServiceToken": "arn:aws:lambda:ap-south-1:111111111111:function:migrator",
            "MigrationsHash": migrations_hash(ENGINE_MIGRATIONS),
            "LatestFile": sorted(p.name for p in ENGINE_MIGRATIONS.glob("*.sql"))[-1],
        },
    )


def test_the_hash_changes_with_a_new_or_edited_file_and_ignores_line_endings(
    tmp_path: Path,
) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id int);\n")
    first = migrations_hash(tmp_path)
    (tmp_path / "0001_a.sql").write_bytes(b"CREATE TABLE a (id int);\r\n")
    assert migrations_hash(tmp_path) == first
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (id int);\n")
    second = migrations_hash(tmp_path)
    assert second != first
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (id bigint);\n")
    assert migrations_hash(tmp_path) != second


def test_no_migrations_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _template(tmp_path)
