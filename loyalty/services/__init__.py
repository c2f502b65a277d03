"""Loyalty domain operations: the only place balances change.

One module per action family; this package re-exports their public functions so callers
write ``from loyalty import services`` or ``from loyalty.services import points_adjust``.
"""

from loyalty.audit import AuditRecord
from loyalty.rules.earning import EarningResult
from loyalty.rules.reversal import ReversalPlan, order_reversal_plan
from loyalty.services.adjustments import (
    IMPORT_COLUMNS,
    ImportPreviewRow,
    ImportReport,
    member_points_adjust,
    members_import_audited,
    members_import_balances,
    members_import_preview,
    points_adjust,
)
from loyalty.services.crediting import (
    Delivery,
    deliveries_credit,
    guest_orders_link,
    order_webhook_process,
    refund_webhook_process,
)
from loyalty.services.customers import customer_webhook_process
from loyalty.services.earning import (
    order_earning_compute,
    product_tags_read,
    product_tags_record,
)
from loyalty.services.expiry import (
    points_expire_due,
)
from loyalty.services.ledger import (
    AVAILABLE,
    CENT,
    PENDING,
    ZERO,
    DriftReport,
    Kind,
    enqueue_on_commit,
    ledger_effect_apply,
    ledger_post,
    ledger_verify,
    member_lock,
)
from loyalty.services.members import (
    MemberProfile,
    member_profile_apply,
    member_upsert,
)
from loyalty.services.orders import (
    OrderDrift,
    order_discount_codes,
    order_is_trigger,
    order_snapshot,
    orders_reversal_verify,
    pending_release_due,
    redemptions_attribute,
)
from loyalty.services.privacy import (
    customer_data_export,
    customer_redact,
    shop_data_erase,
)
from loyalty.services.program_config import (
    BONUS_EVENT_EDITABLE_FIELDS,
    PROGRAM_EDITABLE_FIELDS,
    REWARD_EDITABLE_FIELDS,
    STARTER_REWARDS,
    bonus_event_create,
    bonus_event_delete,
    bonus_event_update,
    branding_update,
    program_get_or_create,
    program_onboard,
    program_set_enabled,
    program_update,
    reward_create,
    reward_update,
)
from loyalty.services.redemptions import (
    CODE_ALPHABET,
    STORE_CREDIT_CLOCK_SKEW,
    redemption_cancel,
    redemption_cancel_audited,
    redemption_code_generate,
    redemption_issue,
    redemptions_expire_due,
    reward_redeem,
)
from loyalty.services.replay import (
    deliveries_replay_audited,
)

__all__ = [
    "AVAILABLE",
    "BONUS_EVENT_EDITABLE_FIELDS",
    "CENT",
    "CODE_ALPHABET",
    "IMPORT_COLUMNS",
    "PENDING",
    "PROGRAM_EDITABLE_FIELDS",
    "REWARD_EDITABLE_FIELDS",
    "STARTER_REWARDS",
    "STORE_CREDIT_CLOCK_SKEW",
    "ZERO",
    "AuditRecord",
    "Delivery",
    "DriftReport",
    "EarningResult",
    "ImportPreviewRow",
    "ImportReport",
    "Kind",
    "MemberProfile",
    "OrderDrift",
    "ReversalPlan",
    "bonus_event_create",
    "bonus_event_delete",
    "bonus_event_update",
    "branding_update",
    "customer_data_export",
    "customer_redact",
    "customer_webhook_process",
    "deliveries_credit",
    "deliveries_replay_audited",
    "enqueue_on_commit",
    "guest_orders_link",
    "ledger_effect_apply",
    "ledger_post",
    "ledger_verify",
    "member_lock",
    "member_points_adjust",
    "member_profile_apply",
    "member_upsert",
    "members_import_audited",
    "members_import_balances",
    "members_import_preview",
    "order_discount_codes",
    "order_earning_compute",
    "order_is_trigger",
    "order_reversal_plan",
    "order_snapshot",
    "order_webhook_process",
    "orders_reversal_verify",
    "pending_release_due",
    "points_adjust",
    "points_expire_due",
    "product_tags_read",
    "product_tags_record",
    "program_get_or_create",
    "program_onboard",
    "program_set_enabled",
    "program_update",
    "redemption_cancel",
    "redemption_cancel_audited",
    "redemption_code_generate",
    "redemption_issue",
    "redemptions_attribute",
    "redemptions_expire_due",
    "refund_webhook_process",
    "reward_create",
    "reward_redeem",
    "reward_update",
    "shop_data_erase",
]
