"""Every Admin API operation Beam performs: one typed function each, its GraphQL document a
module-level ``*_DOCUMENT`` constant (tests validate all of them against the real schema).

The functions take the shop explicitly and an optional ``client`` (tests inject one with a
fake ``sleep``). Mutations raise ``merchants.errors.ShopifyUserError`` on ``userErrors``;
the client raises the other failures (see ``merchants.shopify.client``). One module per
resource; this package re-exports their public names.
"""

from merchants.shopify.operations.app_data import (
    APP_DATA_METAFIELD_SET_DOCUMENT,
    APP_DATA_NAMESPACE,
    APP_INSTALLATION_DOCUMENT,
    app_data_json_set,
)
from merchants.shopify.operations.customers import (
    CUSTOMER_LOYALTY_METAFIELDS_DELETE_DOCUMENT,
    CUSTOMER_LOYALTY_METAFIELDS_SET_DOCUMENT,
    CUSTOMER_TAGS_ADD_DOCUMENT,
    CUSTOMER_TAGS_REMOVE_DOCUMENT,
    LOYALTY_METAFIELD_NAMESPACE,
    customer_loyalty_metafields_set,
    customer_tags_add,
    customer_tags_remove,
)
from merchants.shopify.operations.discounts import (
    DISCOUNT_CODE_BASIC_CREATE_DOCUMENT,
    DISCOUNT_CODE_DEACTIVATE_DOCUMENT,
    DISCOUNT_CODE_DELETE_DOCUMENT,
    DISCOUNT_CODE_FREE_SHIPPING_CREATE_DOCUMENT,
    DISCOUNT_CODE_LOOKUP_DOCUMENT,
    CreatedDiscount,
    DiscountCodeStatus,
    discount_code_basic_create,
    discount_code_deactivate,
    discount_code_delete,
    discount_code_free_shipping_create,
    discount_code_lookup,
)
from merchants.shopify.operations.order_payload import gid_to_id, order_rest_payload
from merchants.shopify.operations.orders import (
    ORDER_DOCUMENT,
    ORDER_LINE_ITEMS_DOCUMENT,
    ORDER_LINE_ITEMS_PAGE,
    ORDER_REFUNDS_DOCUMENT,
    ORDER_REFUNDS_MAX,
    ORDERS_UPDATED_SINCE_DOCUMENT,
    REFUND_LINE_ITEMS_DOCUMENT,
    REFUND_LINE_ITEMS_PAGE,
    order_fetch,
    orders_updated_since,
)
from merchants.shopify.operations.shop import SHOP_DETAILS_DOCUMENT, ShopDetails, shop_details_fetch
from merchants.shopify.operations.store_credit import (
    STORE_CREDIT_ACCOUNT_CREDIT_DOCUMENT,
    STORE_CREDIT_CREDITS_MAX_PAGES,
    STORE_CREDIT_CREDITS_RECENT_DOCUMENT,
    StoreCreditCredit,
    store_credit_account_credit,
    store_credit_credits_since,
)

__all__ = [
    "APP_DATA_METAFIELD_SET_DOCUMENT",
    "APP_DATA_NAMESPACE",
    "APP_INSTALLATION_DOCUMENT",
    "CUSTOMER_LOYALTY_METAFIELDS_DELETE_DOCUMENT",
    "CUSTOMER_LOYALTY_METAFIELDS_SET_DOCUMENT",
    "CUSTOMER_TAGS_ADD_DOCUMENT",
    "CUSTOMER_TAGS_REMOVE_DOCUMENT",
    "DISCOUNT_CODE_BASIC_CREATE_DOCUMENT",
    "DISCOUNT_CODE_DEACTIVATE_DOCUMENT",
    "DISCOUNT_CODE_DELETE_DOCUMENT",
    "DISCOUNT_CODE_FREE_SHIPPING_CREATE_DOCUMENT",
    "DISCOUNT_CODE_LOOKUP_DOCUMENT",
    "LOYALTY_METAFIELD_NAMESPACE",
    "ORDERS_UPDATED_SINCE_DOCUMENT",
    "ORDER_DOCUMENT",
    "ORDER_LINE_ITEMS_DOCUMENT",
    "ORDER_LINE_ITEMS_PAGE",
    "ORDER_REFUNDS_DOCUMENT",
    "ORDER_REFUNDS_MAX",
    "REFUND_LINE_ITEMS_DOCUMENT",
    "REFUND_LINE_ITEMS_PAGE",
    "SHOP_DETAILS_DOCUMENT",
    "STORE_CREDIT_ACCOUNT_CREDIT_DOCUMENT",
    "STORE_CREDIT_CREDITS_MAX_PAGES",
    "STORE_CREDIT_CREDITS_RECENT_DOCUMENT",
    "CreatedDiscount",
    "DiscountCodeStatus",
    "ShopDetails",
    "StoreCreditCredit",
    "app_data_json_set",
    "customer_loyalty_metafields_set",
    "customer_tags_add",
    "customer_tags_remove",
    "discount_code_basic_create",
    "discount_code_deactivate",
    "discount_code_delete",
    "discount_code_free_shipping_create",
    "discount_code_lookup",
    "gid_to_id",
    "order_fetch",
    "order_rest_payload",
    "orders_updated_since",
    "shop_details_fetch",
    "store_credit_account_credit",
    "store_credit_credits_since",
]
