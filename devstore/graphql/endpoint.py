"""One Admin GraphQL request answered: parsed, priced, throttled and executed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from graphql import OperationDefinitionNode, OperationType, execute_sync

from devstore.graphql.graph import ShopGraph
from devstore.graphql.schema import document_parse, platform_schema, query_cost
from devstore.models import DevShop
from devstore.throttle import MAX_QUERY_COST, throttle_spend
from devstore.webhooks import webhook_outbox


def graphql_request(shop: DevShop, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Answer one Admin GraphQL request: ``(status, json body, extra headers)``."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return 400, {"errors": {"query": "Required parameter missing or invalid"}}, {}
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return 400, {"errors": {"variables": "Variables must be an object"}}, {}
    document, errors = document_parse(body["query"])
    if document is None:
        return 200, {"errors": list(errors)}, {}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    if len(chosen) != 1:
        message = (
            f'No operation named "{name}"'
            if name
            else "An operation name is required when the document has several operations"
        )
        return 200, {"errors": [{"message": message}]}, {}
    operation = chosen[0]
    cost = query_cost(document, operation, variables)
    if cost > MAX_QUERY_COST:
        return (
            200,
            {
                "errors": [
                    {
                        "message": f"Query cost is {cost}, which exceeds the single query max "
                        f"cost limit ({MAX_QUERY_COST}).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost},
                    }
                ]
            },
            {},
        )
    outcome = throttle_spend(shop, cost)
    if not outcome.allowed:
        answer: dict[str, Any] = {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": outcome.cost_extension(actual=None)},
        }
        if shop.throttle_http_429 or getattr(settings, "DEVSTORE_THROTTLE_HTTP_429", False):
            return 429, answer, {"Retry-After": str(outcome.retry_after)}
        return 200, answer, {}
    graph = ShopGraph(shop)
    if operation.operation == OperationType.MUTATION:
        with webhook_outbox(), transaction.atomic():
            result = execute_sync(
                platform_schema(),
                document,
                root_value=graph.mutation_root(),
                variable_values=variables,
                operation_name=name,
            )
    else:
        result = execute_sync(
            platform_schema(),
            document,
            root_value=graph.query_root(),
            variable_values=variables,
            operation_name=name,
        )
    answer = {}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    answer["data"] = result.data
    answer["extensions"] = {"cost": outcome.cost_extension(actual=cost)}
    return 200, answer, {}
