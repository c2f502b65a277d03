"""The simulated store's operations: what a merchant, a shopper or the platform does.

Plain functions used by the devstore's pages, the demo command, tests and benchmarks. Each
write runs in one transaction and sends its webhooks after commit (see devstore.webhooks).
One module per family of actions; this package re-exports their public names.
"""

from devstore.oauth import session_token_issue
from devstore.services.checkout import order_place
from devstore.services.compliance import (
    compliance_customer_data_request,
    compliance_customer_redact,
    compliance_shop_redact,
)
from devstore.services.customers import (
    customer_create,
    customer_delete,
    customer_email_consent_toggle,
    customer_update,
)
from devstore.services.discounts import (
    discount_code_create,
    discount_code_preview,
    discount_code_status,
)
from devstore.services.orders import order_cancel, order_fulfill, order_pay, order_refund
from devstore.services.products import product_create
from devstore.services.shops import app_uninstall, shop_create

__all__ = [
    "app_uninstall",
    "compliance_customer_data_request",
    "compliance_customer_redact",
    "compliance_shop_redact",
    "customer_create",
    "customer_delete",
    "customer_email_consent_toggle",
    "customer_update",
    "discount_code_create",
    "discount_code_preview",
    "discount_code_status",
    "order_cancel",
    "order_fulfill",
    "order_pay",
    "order_place",
    "order_refund",
    "product_create",
    "session_token_issue",
    "shop_create",
]
