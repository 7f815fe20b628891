"""The kiosk's state machine, every transition, with a fake clock and a scriptable hub double."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from kioskkit import KNOWN_DIGITS, NEW_DIGITS, HeldRunner, make_presenter, type_number

from kiosk.demo import DEMO_CARD, DEMO_PHONE
from kiosk.models import HubError, HubReason
from kiosk.states import Screen
from venue.clock import FakeClock


def at_home(clock: FakeClock, **kw: object):  # type: ignore[no-untyped-def]
    p, hub, events, store = make_presenter(clock, **kw)  # type: ignore[arg-type]
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    assert p.state.screen == Screen.HOME
    return p, hub, events, store


def test_attract_language_then_identify(clock: FakeClock) -> None:
    p, *_ = make_presenter(clock)
    assert p.state.screen == Screen.ATTRACT and p.state.lang == "en"
    p.choose_language("uk")
    assert p.state.lang == "uk"
    p.choose_language("de")  # not configured: ignored
    assert p.state.lang == "uk"
    p.begin()
    assert p.state.screen == Screen.IDENTIFY
    assert p.state.prefix == "+380"


def test_keypad_formats_as_you_type_and_masks_all_but_the_last_two(clock: FakeClock) -> None:
    p, *_ = make_presenter(clock)
    p.begin()
    type_number(p, "067")
    assert p.state.phone_display == "•67"
    type_number(p, "1234567")
    assert p.state.phone_display == "••• ••• ••67"
    assert p.phone.formatted() == "067 123 4567"
    assert p.state.can_submit
    p.backspace()
    assert p.state.phone_display == "••• ••• •56"
    p.clear()
    assert p.state.phone_display == "" and not p.state.can_submit
    type_number(p, "1" * 30)
    assert len(p.phone) == 15  # E.164's limit
    assert "1234567" not in repr(p.state)


def test_invalid_number_gets_a_message_and_never_reaches_the_hub(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    p.begin()
    type_number(p, "0001112223")
    p.submit_phone()
    assert p.state.screen == Screen.IDENTIFY
    assert p.state.message is not None and p.state.message.tone == "error"
    assert "valid phone number" in p.state.message.render()
    assert hub.called("identify") == []
    p.press_digit("4")
    assert p.state.message is None  # typing again clears it


def test_hub_refuses_the_number_or_rate_limits(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    p.begin()
    type_number(p, KNOWN_DIGITS)
    hub.fail["identify"] = HubError(HubReason.RATE_LIMITED)
    p.submit_phone()
    assert p.state.screen == Screen.IDENTIFY
    assert "Too many attempts" in p.state.message.render()  # type: ignore[union-attr]
    hub.fail["identify"] = HubError(HubReason.INVALID_PHONE, "bad")
    p.submit_phone()
    assert "valid phone number" in p.state.message.render()  # type: ignore[union-attr]
    assert not p.state.offline


def test_known_customer_home_with_visit_credited_and_event_without_phone(clock: FakeClock) -> None:
    p, hub, events, _ = at_home(clock)
    s = p.state
    assert s.summary is not None and s.summary.masked_phone == "+380 •• ••• •• 67"
    assert s.summary.balance(1).points == 130  # type: ignore[union-attr]
    assert [n.render() for n in s.notes] == ["+10 points for your visit!"]
    assert hub.called("identify")[0]["phone"] == DEMO_PHONE
    assert events.checkins == [
        {"customer": "c_demo0001", "business": 1, "credited": True, "reason": "ok",
         "offline": False}
    ]
    assert "671234567" not in json.dumps(events.checkins)
    # coupons: one shows its control code, one hides it until redeemed
    codes = {c.name: c.code for c in s.summary.coupons}
    assert codes["Free coffee"] and codes["Birthday cake"] is None


def test_second_visit_within_cooldown_says_why_not(clock: FakeClock) -> None:
    p, _hub, events, _store = at_home(clock)
    p.finish()
    clock.advance(10)
    p.tick()
    assert p.state.screen == Screen.ATTRACT
    clock.advance(3600)
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    assert p.state.screen == Screen.HOME
    assert p.state.visits[0].credited is False and p.state.visits[0].reason == "cooldown"
    assert "already rewarded" in p.state.notes[0].render()
    assert p.state.summary.balance(1).points == 130  # type: ignore[union-attr]
    assert events.checkins[-1]["reason"] == "cooldown"


def test_new_customer_consents_before_anything_is_stored(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    p.begin()
    type_number(p, NEW_DIGITS)
    p.submit_phone()
    assert p.state.screen == Screen.CONSENT
    assert hub.called("register") == []
    p.decline_terms()
    assert p.state.screen == Screen.ATTRACT and hub.called("register") == []
    p.begin()
    type_number(p, NEW_DIGITS)
    p.submit_phone()
    p.accept_terms()
    assert hub.called("register") == [{"phone": "+380509876543", "businesses": [1]}]
    assert p.state.screen == Screen.HOME
    assert p.state.summary.new and p.state.summary.balance(1).points == 10  # type: ignore


def test_card_qr_identifies_and_unknown_card_says_so(clock: FakeClock) -> None:
    p, *_ = make_presenter(clock, camera=True)
    p.begin()
    p.open_scanner()
    assert p.state.screen == Screen.SCAN
    p.card_scanned("nobody")
    assert p.state.screen == Screen.IDENTIFY
    assert "do not know this card" in p.state.message.render()  # type: ignore[union-attr]
    p.open_scanner()
    p.card_scanned(DEMO_CARD)
    assert p.state.screen == Screen.HOME


def test_reward_confirm_and_issued_coupon(clock: FakeClock) -> None:
    p, _hub, *_ = at_home(clock)
    p.open_rewards()
    assert p.state.screen == Screen.REWARDS
    p.choose_reward(3)  # espresso, 50 points of 130
    assert p.state.screen == Screen.CONFIRM and p.state.reward.cost == 50  # type: ignore
    p.back()
    assert p.state.screen == Screen.REWARDS
    p.choose_reward(3)
    p.confirm_reward()
    assert p.state.screen == Screen.COUPON
    assert p.state.coupon is not None and p.state.coupon.code
    assert p.state.balance_after == 80
    assert p.state.summary.balance(1).points == 80  # type: ignore[union-attr]
    affordable = {r.id: r.affordable for r in p.state.summary.rewards}  # type: ignore
    assert affordable == {3: True, 4: True, 5: False, 6: False}
    p.finish()
    assert p.state.screen == Screen.DONE


def test_insufficient_points_locally_and_from_the_hub(clock: FakeClock) -> None:
    p, hub, *_ = at_home(clock)
    p.open_rewards()
    p.choose_reward(6)  # 300 points: not affordable
    assert p.state.screen == Screen.REWARDS
    assert p.state.message.render() == "You need 170 more points for Breakfast set."  # type: ignore
    assert hub.called("redeem") == []
    p.choose_reward(5)  # 120 of 130: affordable as far as the kiosk knows...
    hub.with_points("c_demo0001", 1, 20)  # ...but spent at the register meanwhile
    p.confirm_reward()
    assert p.state.screen == Screen.REWARDS
    assert p.state.message.render() == "You need 100 more points for Cappuccino."  # type: ignore
    assert p.state.summary.balance(1).points == 20  # type: ignore[union-attr]


def test_shop_categories_items_cart_submit(clock: FakeClock) -> None:
    p, hub, events, _ = at_home(clock)
    p.open_shop()
    assert p.state.screen == Screen.SHOP and p.state.catalog is not None
    p.choose_category(1)
    assert p.state.screen == Screen.ITEMS
    assert [i.name for i in p.state.items()][:2] == ["Espresso", "Latte"]
    p.add_item(6)
    p.add_item(6)
    p.add_item(5)
    p.remove_item(5)
    p.add_item(10)  # unavailable: cannot be added
    assert p.state.cart_count == 2 and p.state.total == Decimal("130.00")
    p.open_cart()
    assert p.state.screen == Screen.CART
    p.submit_order()
    assert p.state.screen == Screen.ORDER
    assert p.state.order.number == "A-017" and p.state.order.total == Decimal("130.00")  # type: ignore
    assert p.state.cart == ()
    assert events.orders == [{"check": 17, "number": "A-017", "total": "130.00",
                              "currency": "UAH", "lines": 1}]
    sent = hub.called("submit_check")[0]
    assert sent["customer"] == "c_demo0001" and sent["lines"][0].qty == 2


def test_order_retry_keeps_its_key_and_unavailable_items_leave_the_cart(clock: FakeClock) -> None:
    p, hub, *_ = at_home(clock)
    p.open_shop()
    p.choose_category(1)
    p.add_item(7)
    p.open_cart()
    hub.fail["submit_check"] = HubError(HubReason.OFFLINE)
    p.submit_order()
    assert p.state.screen == Screen.CART and "offline" in p.state.message.render()  # type: ignore
    del hub.fail["submit_check"]
    p.state = p.state.__class__(**{**p.state.__dict__, "offline": False})
    p.submit_order()
    keys = [c["idempotency_key"] for c in hub.called("submit_check")]
    assert len(keys) == 2 and keys[0] == keys[1]
    # an item sold out between the catalog and the order
    p.finish()
    clock.advance(60)
    p.tick()
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    p.open_shop()
    p.choose_category(1)
    p.add_item(5)
    p.add_item(8)
    p.open_cart()
    hub.fail["submit_check"] = HubError(HubReason.UNAVAILABLE, items=[8])
    p.submit_order()
    assert [ln.item.id for ln in p.state.cart] == [5]
    assert "Flat white just sold out" in p.state.message.render()  # type: ignore[union-attr]


def test_offline_stranger_gets_a_message_and_the_banner(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    hub.down = True
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    assert p.state.offline
    assert p.state.screen == Screen.IDENTIFY
    assert "cannot reach our server" in p.state.message.render()  # type: ignore[union-attr]


def test_offline_returning_customer_credit_queued_spending_refused(clock: FakeClock) -> None:
    p, hub, events, store = at_home(clock)
    p.finish()
    clock.advance(5 * 3600)  # past the cooldown
    p.tick()
    hub.down = True
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    assert p.state.screen == Screen.HOME and p.state.offline
    assert p.state.summary.masked_phone == "+380 •• ••• •• 67"  # type: ignore[union-attr]
    assert p.state.visits[0].queued
    assert "saved and will be credited" in p.state.notes[0].render()
    assert store.queue_depth() == 1
    p.open_rewards()
    assert p.state.screen == Screen.HOME and "cannot be spent" in p.state.message.render()  # type: ignore
    p.open_shop()
    assert p.state.screen == Screen.HOME and "cannot be placed" in p.state.message.render()  # type: ignore
    assert len(events.checkins) == 1  # only the online one so far


def test_queued_credit_is_retried_with_its_key_and_the_banner_clears(clock: FakeClock) -> None:
    p, hub, events, store = make_presenter(clock, retry_s=30.0)
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()  # online once: the kiosk now knows this customer
    hub.fail["credit_visit"] = HubError(HubReason.OFFLINE)
    p.finish()
    clock.advance(5 * 3600)
    p.tick()
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()  # identify works, the credit does not: queued
    assert p.state.offline and store.queue_depth() == 1
    queued_key = store.queued_visits()[0].idempotency_key
    clock.advance(31)
    p.tick()  # the hub is still failing: stays queued, counted
    assert store.queue_depth() == 1 and store.queued_visits()[0].attempts >= 1
    del hub.fail["credit_visit"]
    p.tick()  # not due yet
    assert store.queue_depth() == 1
    clock.advance(31)
    p.tick()
    assert store.queue_depth() == 0
    assert hub.called("credit_visit")[-1]["visit"].idempotency_key == queued_key
    assert events.checkins[-1] == {"customer": "c_demo0001", "business": 1, "credited": True,
                                   "reason": "ok", "offline": True}
    assert not p.state.offline


def test_offline_banner_clears_when_the_hub_answers_a_probe(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock, retry_s=10.0)
    hub.down = True
    p.tick()
    assert p.state.offline
    hub.down = False
    clock.advance(11)
    p.tick()
    assert not p.state.offline


def test_idle_timeout_from_any_screen_forgets_the_customer(clock: FakeClock) -> None:
    p, *_ = at_home(clock, idle_timeout_s=45.0)
    p.choose_language("uk")
    p.open_shop()
    p.choose_category(1)
    p.add_item(5)
    clock.advance(44)
    p.tick()
    assert p.state.screen == Screen.ITEMS
    p.touched()
    clock.advance(44)
    p.tick()
    assert p.state.screen == Screen.ITEMS
    clock.advance(2)
    p.tick()
    s = p.state
    assert s.screen == Screen.ATTRACT and s.summary is None and s.cart == () and s.lang == "en"
    # and from the keypad, with digits typed
    p.begin()
    type_number(p, "067")
    clock.advance(46)
    p.tick()
    assert p.state.screen == Screen.ATTRACT and len(p.phone) == 0


def test_done_returns_to_attract_by_itself(clock: FakeClock) -> None:
    p, *_ = at_home(clock, done_timeout_s=6.0)
    p.finish()
    assert p.state.screen == Screen.DONE
    clock.advance(5)
    p.tick()
    assert p.state.screen == Screen.DONE
    clock.advance(1)
    p.tick()
    assert p.state.screen == Screen.ATTRACT and p.state.summary is None


def test_busy_ignores_taps_and_a_late_answer_after_reset_is_dropped(clock: FakeClock) -> None:
    held = HeldRunner()
    p, *_ = make_presenter(clock, runner=held, idle_timeout_s=5.0, busy_limit_s=15.0)
    held.release_all()  # nothing yet
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    assert p.state.busy is not None and p.state.busy.render() == "Looking you up…"
    p.press_digit("9")
    p.back()
    assert p.state.screen == Screen.IDENTIFY  # ignored while busy
    clock.advance(10)
    p.tick()
    assert p.state.screen == Screen.IDENTIFY  # a call in flight is not idle
    assert p.state.busy is not None
    p.reset()
    held.release_all()
    assert p.state.screen == Screen.ATTRACT and p.state.summary is None


def test_back_is_never_a_dead_end(clock: FakeClock) -> None:
    p, *_ = at_home(clock)
    p.open_shop()
    p.choose_category(2)
    p.open_cart()
    p.back()
    assert p.state.screen == Screen.ITEMS
    p.back()
    assert p.state.screen == Screen.SHOP
    p.back()
    assert p.state.screen == Screen.HOME
    p.back()
    assert p.state.screen == Screen.ATTRACT and p.state.summary is None


@pytest.mark.parametrize("spacing,opens", [(0.5, True), (1.0, False)])
def test_maintenance_behind_hidden_taps_and_pin(clock: FakeClock, spacing: float,
                                                opens: bool) -> None:
    p, *_ = make_presenter(clock, maintenance_pin="2468")
    for _ in range(5):
        p.secret_tap()
        clock.advance(spacing)
    assert (p.state.screen == Screen.PIN) is opens


def test_pin_wrong_right_and_lockout(clock: FakeClock) -> None:
    actions: list[str] = []
    p, *_ = make_presenter(clock, maintenance_pin="2468")
    p.actions["reload"] = lambda: actions.append("reload")
    for _ in range(5):
        p.secret_tap()
    for d in "1111":
        p.press_digit(d)
    assert p.state.pin_display == "●●●●"
    p.pin_submit()
    assert p.state.screen == Screen.PIN and p.state.message.render() == "Wrong PIN."  # type: ignore
    for d in "2468":
        p.pin_digit(d)
    p.pin_submit()
    assert p.state.screen == Screen.MAINTENANCE
    assert p.state.maintenance is not None and p.state.maintenance.device == "k1"
    p.maintenance_action("reload")
    assert actions == ["reload"]
    p.back()
    assert p.state.screen == Screen.ATTRACT
    for _ in range(5):
        p.secret_tap()
    for _ in range(3):
        p.pin_digit("0")
        p.pin_submit()
    assert p.state.screen == Screen.ATTRACT


def test_cooldown_note_names_the_next_time(clock: FakeClock) -> None:
    from kiosk.models import VisitResult
    from kiosk.presenter import visit_note

    v = VisitResult(1, False, "cooldown", next_at=clock.now() + timedelta(hours=2))
    note = visit_note(v)
    assert note is not None and "Next reward from" in note.render()
    assert visit_note(VisitResult(1, False, "no_rule")) is None


def test_register_while_offline_stays_on_consent_with_a_message(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    p.begin()
    type_number(p, NEW_DIGITS)
    p.submit_phone()
    hub.fail["register"] = HubError(HubReason.OFFLINE)
    p.accept_terms()
    assert p.state.screen == Screen.CONSENT and p.state.offline
    assert "cannot reach our server" in p.state.message.render()  # type: ignore[union-attr]
    p.back()
    assert p.state.screen == Screen.ATTRACT


def test_scan_back_coupon_back_and_order_done(clock: FakeClock) -> None:
    p, *_ = make_presenter(clock, camera=True)
    p.begin()
    p.open_scanner()
    p.back()
    assert p.state.screen == Screen.IDENTIFY
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    p.open_rewards()
    p.choose_reward(3)
    p.confirm_reward()
    p.back()
    assert p.state.screen == Screen.HOME
    assert any(c.serial == p.state.coupon.serial for c in p.state.summary.coupons)  # type: ignore
    p.open_shop()
    p.choose_category(3)
    p.add_item(13)
    p.open_cart()
    p.remove_item(13)
    p.submit_order()  # an empty cart sends nothing
    assert p.state.screen == Screen.CART
    p.add_item(13)
    p.submit_order()
    p.finish()
    assert p.state.screen == Screen.DONE


def test_camera_off_hides_the_scanner(clock: FakeClock) -> None:
    p, *_ = make_presenter(clock, camera=False)
    p.begin()
    p.open_scanner()
    assert p.state.screen == Screen.IDENTIFY and not p.state.camera


def test_maintenance_retry_runs_the_queue_at_the_next_tick(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock, retry_s=3600.0)
    p.tick()  # first round: nothing queued, the hub is probed
    pings = len(hub.called("ping"))
    for _ in range(5):
        p.secret_tap()
    for d in "2468":
        p.pin_digit(d)
    p.pin_submit()
    p.maintenance_action("retry")
    p.tick()
    assert len(hub.called("ping")) == pings + 1
    assert p.state.maintenance is not None and p.state.maintenance.queued_credits == 0


def test_a_hub_call_that_never_ends_is_abandoned_and_its_late_answer_dropped(
    clock: FakeClock,
) -> None:
    held = HeldRunner()
    p, *_ = make_presenter(clock, runner=held, busy_limit_s=10.0)
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    clock.advance(9)
    p.tick()
    assert p.state.busy is not None
    clock.advance(2)
    p.tick()
    assert p.state.busy is None and p.state.offline
    assert p.state.screen == Screen.IDENTIFY
    assert "cannot reach our server" in p.state.message.render()  # type: ignore[union-attr]
    held.release_all()  # the identify job finally returns: too late, dropped
    assert p.state.screen == Screen.IDENTIFY and p.state.summary is None
    p.submit_phone()  # the customer can try again at once
    assert p.state.busy is not None
