"""What the kiosk says, as msgids the views translate: hub reasons, offline refusals, visit notes.

Kept apart from the state machine so wording can change without touching transitions, and so the
translators' extraction (``python -m kiosk.i18n --extract``) finds every text in one place.
"""

from __future__ import annotations

from kiosk.models import HubReason, VisitResult
from kiosk.states import N_, Msg

OFFLINE_SPEND = N_("We are offline right now, so points cannot be spent. Please try again later.")
REASON_TEXT: dict[HubReason, str] = {
    HubReason.INVALID_PHONE: N_("That does not look like a valid phone number."),
    HubReason.RATE_LIMITED: N_("Too many attempts. Please wait a minute and try again."),
    HubReason.OFFLINE: N_("We cannot reach our server right now. Please try again in a moment."),
    HubReason.UNKNOWN_CUSTOMER: N_("We do not know this card. Please type your phone number."),
    HubReason.INSUFFICIENT_POINTS: N_("Not enough points for this reward yet."),
    HubReason.UNAVAILABLE: N_("Sorry, something in your cart just sold out."),
}


def visit_note(v: VisitResult) -> Msg | None:
    """What Home says about a visit credit."""
    if v.queued:
        return Msg.of(N_("Your visit is saved and will be credited as soon as we are back "
                         "online."), "info")
    if v.credited:
        return Msg.of(N_("+{points} points for your visit!"), "success", points=v.points)
    if v.reason == "cooldown":
        when = v.next_at.astimezone().strftime("%H:%M") if v.next_at else ""
        if when:
            return Msg.of(N_("Your visit was already rewarded. Next reward from {time}."),
                          "info", time=when)
        return Msg.of(N_("Your visit was already rewarded today."), "info")
    return None

OFFLINE_PLAY = N_("We are offline right now, so the lottery cannot be played. Please try again "
                  "later.")
OFFLINE_CLAIM = N_("We are offline right now, so coupons cannot be claimed. Please try again "
                   "later.")
PLAY_TEXT: dict[HubReason, str] = {
    HubReason.ALREADY_PLAYED: N_("This code has already been played. Each code plays once."),
    HubReason.UNKNOWN_CODE: N_("We do not know this code. Please check it and try again."),
    HubReason.ENDED: N_("Sorry, this lottery has just ended."),
    HubReason.NO_PRIZES: N_("Sorry, every prize of this lottery has been won. Your code stays "
                            "valid."),
    HubReason.UNAVAILABLE: N_("Sorry, this prize cannot be given right now. Please ask at the "
                              "register."),
    HubReason.OFFLINE: OFFLINE_PLAY,
}
CLAIM_TEXT: dict[HubReason, str] = {
    HubReason.ALREADY_CLAIMED: N_("You already have this coupon. Enjoy it!"),
    HubReason.ENDED: N_("Sorry, this promotion has just ended."),
    HubReason.NO_COUPON: N_("Sorry, this promotion has just ended."),
    HubReason.UNAVAILABLE: N_("Sorry, this coupon cannot be given right now. Please ask at the "
                              "register."),
    HubReason.OFFLINE: OFFLINE_CLAIM,
}
TRY_AGAIN = N_("Something went wrong. Please try again.")
