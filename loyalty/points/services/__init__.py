"""Every write to points, one module per concern: the policy (`policy`), the balance and lot
primitives every change is built from (`ledger`), earning on orders and taking back after refunds
(`earning`), expiry (`expiry`), redemption and its cancellation (`redemption`), manual adjustments
(`adjustments`) and the rewards catalogue (`rewards`). Callers use this package's names:
`from loyalty.points import services; services.redeem(...)`."""

from loyalty.points.services.adjustments import MAX_ADJUSTMENT, adjust_points
from loyalty.points.services.earning import MAX_POINTS, SyncResult, sync_orders
from loyalty.points.services.expiry import EXPIRY_BATCH_MEMBERS, expire_due_points
from loyalty.points.services.ledger import member_for
from loyalty.points.services.permissions import can_adjust, can_edit_policy, can_edit_rewards, can_redeem
from loyalty.points.services.policy import (
    CURRENCY_SYMBOLS,
    POLICY_FIELDS,
    currency_symbol,
    reporting_currency,
    update_policy,
)
from loyalty.points.services.redemption import cancel_redemption, redeem
from loyalty.points.services.rewards import REWARD_FIELDS, delete_reward, reward_for, save_reward

__all__ = [
    "CURRENCY_SYMBOLS",
    "EXPIRY_BATCH_MEMBERS",
    "MAX_ADJUSTMENT",
    "MAX_POINTS",
    "POLICY_FIELDS",
    "REWARD_FIELDS",
    "SyncResult",
    "adjust_points",
    "can_adjust",
    "can_edit_policy",
    "can_edit_rewards",
    "can_redeem",
    "cancel_redemption",
    "currency_symbol",
    "delete_reward",
    "expire_due_points",
    "member_for",
    "redeem",
    "reporting_currency",
    "reward_for",
    "save_reward",
    "sync_orders",
    "update_policy",
]
