"""The Admin GraphQL API of a simulated shop.

Documents are parsed and validated against the platform's real schema, then executed by
graphql-core on that schema with a root value of resolver callables: objects are plain
dicts (camelCase keys, ``__typename`` for abstract types), fields with arguments are
callables ``(info, **args)``. Anything the devstore does not implement resolves to null, so
a non-null field reports an error instead of inventing data.

One module per resource holds its resolvers (and its mutations); ``graph`` composes them,
``endpoint`` answers a request. This package re-exports the public names.
"""

from devstore.graphql.endpoint import graphql_request
from devstore.graphql.graph import ShopGraph
from devstore.graphql.metafields import APP_ID
from devstore.graphql.schema import query_cost

__all__ = ["APP_ID", "ShopGraph", "graphql_request", "query_cost"]
