"""The platform's Admin schema: documents parsed and validated once, and their cost."""

from __future__ import annotations

from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLFormattedError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    is_composite_type,
    parse,
    validate,
    value_from_ast_untyped,
)


def platform_schema() -> GraphQLSchema:
    from merchants.shopify.admin_schema import admin_schema

    return admin_schema()


@lru_cache(maxsize=256)
def document_parse(query: str) -> tuple[DocumentNode | None, tuple[GraphQLFormattedError, ...]]:
    """Parse and validate once per distinct document text."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc.formatted,)
    errors = validate(platform_schema(), document)
    return (None, tuple(e.formatted for e in errors)) if errors else (document, ())


def query_cost(document: DocumentNode, operation: OperationDefinitionNode, variables: dict) -> int:
    """A simple estimate in the platform's spirit: 1 per object, connections multiply
    their children by ``first``/``last`` (+2), 10 per mutation field."""
    schema = platform_schema()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation.operation == OperationType.MUTATION:
        return 10 * len(operation.selection_set.selections)
    root = schema.query_type

    def selections_cost(selection_set, parent) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                fields = getattr(parent, "fields", {})
                name = selection.name.value
                if name.startswith("__") or name not in fields:
                    continue
                named = get_named_type(fields[name].type)
                if not is_composite_type(named):
                    continue
                child = selections_cost(selection.selection_set, named)
                size = None
                for argument in selection.arguments:
                    if argument.name.value in {"first", "last"}:
                        size = value_from_ast_untyped(argument.value, variables)
                if isinstance(size, int):
                    total += 2 + size * max(child, 1)
                else:
                    total += 1 + child
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = schema.get_type(selection.type_condition.name.value)
                total += selections_cost(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    target = schema.get_type(fragment.type_condition.name.value)
                    total += selections_cost(fragment.selection_set, target)
        return total

    return max(1, selections_cost(operation.selection_set, root))
