"""Loyalty domain errors (``BeamError`` subclasses: stable code + HTTP status)."""

from merchants.errors import BeamError


class LedgerImmutable(BeamError):
    """Ledger entries are append-only."""

    code = "ledger_immutable"
    http_status = 409


class InsufficientPoints(BeamError):
    """The member does not have enough points."""

    code = "insufficient_points"
    http_status = 409


class InvalidAdjustment(BeamError):
    """The adjustment is not valid (reason required, amount not zero)."""

    code = "invalid_adjustment"


class MemberNotFound(BeamError):
    """No such member in this shop."""

    code = "member_not_found"
    http_status = 404


class RewardNotAvailable(BeamError):
    """The reward does not exist in this shop or is not active."""

    code = "reward_not_available"
    http_status = 404


class InvalidRedemption(BeamError):
    """The redemption request is not valid (points out of range, wrong step)."""

    code = "invalid_redemption"


class RewardTierLocked(InvalidRedemption):
    """The reward is for members of a higher tier."""

    code = "reward_tier_locked"
    http_status = 403


class RedemptionNotFound(BeamError):
    """No such redemption for this customer (someone else's looks exactly the same)."""

    code = "redemption_not_found"
    http_status = 404


class RedemptionNotCancellable(BeamError):
    """Only an issued, unused redemption can be cancelled."""

    code = "redemption_not_cancellable"
    http_status = 409


class RedemptionIssueRetry(BeamError):
    """Creating the discount failed transiently; the task retries."""

    code = "redemption_issue_retry"
    http_status = 503


class InvalidBranding(BeamError):
    """A branding value is not acceptable (colour, position, shape, icon, language)."""

    code = "invalid_branding"


class InvalidConfiguration(BeamError):
    """A program, reward or bonus event setting is not acceptable (names the field)."""

    code = "invalid_configuration"

    def __init__(self, message: str = "", *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class PayloadInvalid(BeamError):
    """The platform payload breaks its shape (``loyalty.payload_checks``): it can never be
    processed, however often it is tried."""

    code = "payload_invalid"
    http_status = 422


class InvalidTiers(BeamError):
    """A tier setting, grant or override is not acceptable (the message says which)."""

    code = "invalid_tiers"


class ReferralNotAvailable(BeamError):
    """No such referral code in this shop, or the shop's referral program is off."""

    code = "referral_not_available"
    http_status = 404


class ReferralRefused(BeamError):
    """The friend's claim or the merchant's change cannot be made (the message says why)."""

    code = "referral_refused"
    http_status = 422

    def __init__(self, message: str = "", *, reason: str = "", field: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


class TierChangeUnknown(BeamError):
    """A history page asked for the tier changes before one that is not the member's."""

    code = "invalid_cursor"
    http_status = 400
