"""The platform's real Admin GraphQL schema (API 2026-10), for validating documents.

Beam's tests validate every document Beam sends against it, and the devstore refuses any
document that does not validate, so a typo in a field name fails here, not in production.
"""

import gzip
import json
from functools import cache
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, parse, validate

SCHEMA_PATH = Path(__file__).parent / "schema" / "admin_2026-10.json.gz"


@cache
def admin_schema() -> GraphQLSchema:
    """The schema, built once per process (it takes about a second)."""
    with gzip.open(SCHEMA_PATH, "rt", encoding="utf-8") as fh:
        return build_client_schema(json.load(fh)["data"])


def document_errors(document: str) -> list[str]:
    """Validation errors of ``document`` against the Admin schema (empty when valid)."""
    try:
        ast = parse(document)
    except Exception as exc:  # graphql.GraphQLError on syntax errors
        return [str(exc)]
    return [error.message for error in validate(admin_schema(), ast)]
