"""Every GraphQL document Beam sends validates against the platform's real Admin schema,
uses no deprecated field, and stays under the 1000-point single-query cost cap.

Documents are discovered, not listed: any module-level ``*_DOCUMENT`` string constant in
Beam's apps counts, so a new document cannot skip these checks."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    NoDeprecatedCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
    validate,
)

from merchants.shopify import operations
from merchants.shopify.admin_schema import admin_schema, document_errors

ROOT = Path(__file__).resolve().parents[2]
APPS = ("merchants", "loyalty", "storefront_widget")
_CONSTANT = re.compile(r"^([A-Z][A-Z0-9_]*_DOCUMENT)\s*(?::[^=]+)?=", re.MULTILINE)
EXPECTED_OPERATIONS_DOCUMENTS = 18
MAX_QUERY_COST = 1000


def _beam_documents() -> dict[str, str]:
    found: dict[str, str] = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            names = _CONSTANT.findall(path.read_text(encoding="utf-8"))
            if not names:
                continue
            module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = importlib.import_module(module_name)
            for name in names:
                value = getattr(module, name)
                assert isinstance(value, str), f"{module_name}.{name} is not a str"
                found[f"{module_name}.{name}"] = value
    return found


DOCUMENTS = _beam_documents()


def test_every_operations_document_is_discovered() -> None:
    in_operations = {name for name, value in vars(operations).items() if name.endswith("_DOCUMENT")}
    assert len(in_operations) >= EXPECTED_OPERATIONS_DOCUMENTS
    discovered = {
        key.rsplit(".", 1)[1]
        for key in DOCUMENTS
        if key.startswith("merchants.shopify.operations.")
    }
    assert in_operations <= discovered


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_validates_against_the_admin_schema(name: str) -> None:
    assert document_errors(DOCUMENTS[name]) == []


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_uses_no_deprecated_field_or_argument(name: str) -> None:
    errors = validate(admin_schema(), parse(DOCUMENTS[name]), [NoDeprecatedCustomRule])
    assert [e.message for e in errors] == []


# -- requested cost, per the platform's published rules ------------------------------------
# scalar/enum 0, object 1, interface/union the max of its selections, connection
# 2 + first x (cost of one node), a list field with ``first`` multiplied by ``first``.


def _first(field: FieldNode) -> int | None:
    for argument in field.arguments:
        if argument.name.value == "first" and isinstance(argument.value, IntValueNode):
            return int(argument.value.value)
    return None


def _selection_cost(
    selection_set: SelectionSetNode | None, parent, fragments: dict[str, FragmentDefinitionNode]
) -> int:
    if selection_set is None:
        return 0
    schema = admin_schema()
    total = 0
    branches: list[int] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            field = parent.fields[selection.name.value]
            total += _field_cost(selection, field.type, fragments)
        elif isinstance(selection, InlineFragmentNode):
            on = (
                schema.get_type(selection.type_condition.name.value)
                if selection.type_condition
                else parent
            )
            branches.append(_selection_cost(selection.selection_set, on, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            on = schema.get_type(fragment.type_condition.name.value)
            total += _selection_cost(fragment.selection_set, on, fragments)
    return total + (max(branches) if branches else 0)


def _field_cost(node: FieldNode, field_type, fragments: dict[str, FragmentDefinitionNode]) -> int:
    named = get_named_type(field_type)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return 0
    first = _first(node)
    if isinstance(named, GraphQLObjectType) and named.name.endswith("Connection"):
        per_node = 0
        for selection in node.selection_set.selections if node.selection_set else []:
            if isinstance(selection, FieldNode) and selection.name.value in {"nodes", "edges"}:
                # edges { node { … } } costs what nodes { … } costs: the edge is free.
                edge_type = get_named_type(named.fields[selection.name.value].type)
                per_node = max(
                    per_node,
                    _selection_cost(selection.selection_set, edge_type, fragments)
                    if selection.name.value == "edges"
                    else 1 + _selection_cost(selection.selection_set, edge_type, fragments),
                )
        return 2 + (first or 0) * per_node
    own = 1 + _selection_cost(node.selection_set, named, fragments)
    if isinstance(inner, GraphQLList) and first:
        return first * own
    return own


def requested_cost(document: str) -> int:
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    schema = admin_schema()
    cost = 0
    for definition in ast.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = (
                schema.mutation_type
                if definition.operation.value == "mutation"
                else schema.query_type
            )
            # Mutations cost 10 on the platform; queries the sum of their fields.
            cost += (
                10
                if definition.operation.value == "mutation"
                else _selection_cost(definition.selection_set, root, fragments)
            )
    return cost


def test_cost_estimator_counts_nested_connections() -> None:
    # products(first: 10) { nodes { id variants(first: 5) { nodes { id } } } }
    # = 2 + 10 x (1 + (2 + 5 x 1)) = 82
    document = "query { products(first: 10) { nodes { id variants(first: 5) { nodes { id } } } } }"
    assert requested_cost(document) == 82


@pytest.mark.parametrize("name", sorted(n for n in DOCUMENTS if "mutation" not in DOCUMENTS[n]))
def test_query_cost_is_under_the_single_query_cap(name: str) -> None:
    cost = requested_cost(DOCUMENTS[name])
    assert 0 < cost < MAX_QUERY_COST, f"{name} costs {cost}"


def test_orders_page_at_the_maximum_page_size_is_cheap() -> None:
    # The id page query is run with first=$first; at 250 it must still fit.
    document = operations.ORDERS_UPDATED_SINCE_DOCUMENT.replace("$first: Int!, ", "").replace(
        "$first", "250"
    )
    assert requested_cost(document) == 2 + 250
