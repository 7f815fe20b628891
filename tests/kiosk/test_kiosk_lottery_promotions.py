"""Lottery play, promotions and pictures in the kiosk's state machine (no Kivy), over the demo
data with failures on demand, a fake clock and the synchronous or held runner."""

from __future__ import annotations

from pathlib import Path

from kioskkit import KNOWN_DIGITS, HeldRunner, make_presenter, type_number

from kiosk.demo import DEMO_LOSE_CODE, DEMO_WIN_CODE
from kiosk.media import MediaCache
from kiosk.models import HubError, HubReason
from kiosk.presenter import Presenter
from kiosk.states import Screen
from venue.clock import FakeClock


def at_rewards(clock: FakeClock, **kw: object):  # type: ignore[no-untyped-def]
    p, hub, events, store = make_presenter(clock, **kw)  # type: ignore[arg-type]
    p.tick()  # the first tick asks what runs now
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    p.open_rewards()
    assert p.state.screen == Screen.REWARDS
    return p, hub, events, store


def keys(p: Presenter, code: str) -> None:
    for k in code:
        p.code_key(k)


def test_rewards_offer_play_only_while_a_lottery_runs(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock, offers_refresh_s=20.0)
    assert [x.name for x in p.state.lotteries] == ["Spring draw"]
    assert hub.called("lotteries") == [{"businesses": [1]}]
    p.open_lottery()
    assert p.state.screen == Screen.LOTTERY and p.state.code_display == ""
    p.back()
    assert p.state.screen == Screen.REWARDS
    hub.lottery_list.clear()  # the draw ended
    clock.advance(21)
    p.tick()
    assert p.state.lotteries == ()
    p.open_lottery()
    assert p.state.screen == Screen.REWARDS  # no "Play" without a lottery


def test_a_winning_code_shows_the_coupon_and_adds_it_to_the_wallet(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock)
    before = len(p.state.summary.coupons)  # type: ignore[union-attr]
    p.open_lottery()
    keys(p, DEMO_WIN_CODE + "9")
    p.code_backspace()
    keys(p, "a")  # not a key of the keyboard: ignored
    assert p.state.code_display == DEMO_WIN_CODE
    p.submit_code()
    assert p.state.screen == Screen.PRIZE
    play = p.state.play
    assert play is not None and play.prize == "Free latte" and play.coupon is not None
    assert play.coupon.code and play.coupon.serial
    assert len(p.state.summary.coupons) == before + 1  # type: ignore[union-attr]
    sent = hub.called("play_lottery")[0]
    assert sent["code"] == DEMO_WIN_CODE and sent["customer"] == "c_demo0001"
    assert sent["idempotency_key"].startswith("k1:play:")
    p.back()
    assert p.state.screen == Screen.HOME


def test_no_prize_then_the_same_code_again_is_already_played(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock)
    p.open_lottery()
    keys(p, DEMO_LOSE_CODE)
    p.submit_code()
    assert p.state.screen == Screen.PRIZE
    assert p.state.play is not None and p.state.play.coupon is None
    p.back()
    p.open_rewards()
    p.open_lottery()
    keys(p, DEMO_LOSE_CODE)
    p.submit_code()
    assert p.state.screen == Screen.LOTTERY
    assert p.state.message is not None and p.state.message.tone == "error"
    assert p.state.message.render() == ("This code has already been played. Each code plays "
                                        "once.")
    first, second = hub.called("play_lottery")
    assert first["idempotency_key"] != second["idempotency_key"]  # two plays, two keys
    p.code_clear()
    keys(p, "NOPE")
    p.submit_code()
    assert p.state.message.render().startswith("We do not know this code")  # type: ignore


def test_a_lost_answer_is_retried_with_the_same_key_and_offline_is_refused(
    clock: FakeClock,
) -> None:
    p, hub, *_ = at_rewards(clock, retry_s=30.0)
    p.open_lottery()
    keys(p, DEMO_WIN_CODE)
    hub.fail["play_lottery"] = HubError(HubReason.OFFLINE, "timeout")
    p.submit_code()
    assert p.state.screen == Screen.LOTTERY and p.state.offline
    assert "lottery cannot be played" in p.state.message.render()  # type: ignore[union-attr]
    p.submit_code()  # offline: refused without asking the hub
    assert len(hub.called("play_lottery")) == 1
    del hub.fail["play_lottery"]
    clock.advance(31)
    p.tick()  # the retry round finds the hub again
    assert not p.state.offline
    p.submit_code()
    assert p.state.screen == Screen.PRIZE
    keys_sent = [c["idempotency_key"] for c in hub.called("play_lottery")]
    assert keys_sent[0] == keys_sent[1]  # the same play: a prize is never lost to a timeout


def test_open_lottery_offline_is_refused_clearly(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock, retry_s=30.0)
    hub.down = True
    clock.advance(31)
    p.tick()  # the hub stops answering while the customer looks at Rewards
    assert p.state.offline
    p.open_lottery()
    assert p.state.screen == Screen.REWARDS
    assert "lottery cannot be played" in p.state.message.render()  # type: ignore[union-attr]


def test_the_camera_plays_a_code_on_the_lottery_screen(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock)
    p.card_scanned(f"  {DEMO_WIN_CODE}\n")  # on Rewards the camera is not listened to
    assert hub.called("play_lottery") == [] and p.state.screen == Screen.REWARDS
    p.open_lottery()
    p.card_scanned(f"  {DEMO_WIN_CODE}\n")
    assert p.state.screen == Screen.PRIZE
    assert hub.called("play_lottery")[0]["code"] == DEMO_WIN_CODE
    assert hub.called("identify")[-1].get("card") is None  # not taken for a card


def test_idle_on_the_lottery_screen_forgets_the_customer(clock: FakeClock) -> None:
    p, *_ = at_rewards(clock, idle_timeout_s=45.0)
    p.open_lottery()
    keys(p, "SPR")
    clock.advance(46)
    p.tick()
    assert p.state.screen == Screen.ATTRACT and p.state.code_display == ""
    assert p.state.summary is None and p.state.play is None
    assert p.state.lotteries  # what runs now is the kiosk's, not the customer's


def test_promotions_take_turns_on_attract_and_a_failed_refresh_keeps_them(
    clock: FakeClock,
) -> None:
    p, hub, *_ = make_presenter(clock, promo_rotate_s=8.0, offers_refresh_s=300.0,
                                retry_s=3600.0)
    p.tick()
    titles = [x.title for x in p.state.promotions]
    assert titles == ["Cookie on us", "Happy hour", "Double points Monday"]
    shown = [p.state.promotion.title]  # type: ignore[union-attr]
    for _ in range(3):
        clock.advance(8)
        p.tick()
        shown.append(p.state.promotion.title)  # type: ignore[union-attr]
    assert shown == [*titles, titles[0]]
    hub.down = True
    clock.advance(300)
    p.tick()
    assert [x.title for x in p.state.promotions] == titles
    assert not p.state.offline  # a background refresh does not decide that
    p.begin()
    clock.advance(8)
    p.tick()
    assert p.state.screen == Screen.IDENTIFY  # no rotation behind a customer


def test_claiming_a_free_coupon_then_a_paid_one_then_refusals(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    p.tick()
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    assert [x.id for x in p.state.claimable()] == [3, 1]
    p.claim_promotion(3)
    assert p.state.screen == Screen.COUPON
    assert p.state.coupon is not None and p.state.coupon.name == "Free cookie"
    p.back()
    assert [x.id for x in p.state.claimable()] == [1]  # claimed: not offered again
    hub.with_points("c_demo0001", 1, 30)
    p.claim_promotion(1)
    assert p.state.screen == Screen.HOME
    assert p.state.message is not None
    assert p.state.message.render() == "You need 10 more points for Syrup shot."
    assert p.state.summary.balance(1).points == 30  # type: ignore[union-attr]
    hub.with_points("c_demo0001", 1, 45)
    p.claim_promotion(1)
    assert p.state.screen == Screen.COUPON and p.state.balance_after == 5
    assert p.state.summary.balance(1).points == 5  # type: ignore[union-attr]
    keys_sent = [c["idempotency_key"] for c in hub.called("claim_promotion")]
    assert len(set(keys_sent)) == 3


def test_already_claimed_and_ended_are_friendly_and_hide_the_entry(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock)
    p.tick()
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    hub.fail["claim_promotion"] = HubError(HubReason.ALREADY_CLAIMED, "already claimed")
    p.claim_promotion(3)
    assert p.state.screen == Screen.HOME
    assert p.state.message.render() == "You already have this coupon. Enjoy it!"  # type: ignore
    hub.fail["claim_promotion"] = HubError(HubReason.ENDED, "ended")
    p.claim_promotion(1)
    assert p.state.message.render() == "Sorry, this promotion has just ended."  # type: ignore
    assert p.state.claimable() == ()


def test_claim_offline_is_refused_and_a_lost_answer_keeps_its_key(clock: FakeClock) -> None:
    p, hub, *_ = make_presenter(clock, retry_s=30.0)
    p.tick()
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    hub.fail["claim_promotion"] = HubError(HubReason.OFFLINE, "timeout")
    p.claim_promotion(3)
    assert p.state.offline and "coupons cannot be claimed" in p.state.message.render()  # type: ignore
    p.claim_promotion(3)
    assert len(hub.called("claim_promotion")) == 1  # refused at once while offline
    del hub.fail["claim_promotion"]
    clock.advance(31)
    p.tick()
    p.claim_promotion(3)
    assert p.state.screen == Screen.COUPON
    first, second = hub.called("claim_promotion")
    assert first["idempotency_key"] == second["idempotency_key"]


def test_pictures_arrive_in_the_background_one_job_at_a_time(
    clock: FakeClock, tmp_path: Path,
) -> None:
    held = HeldRunner()
    p, hub, *_ = make_presenter(clock, runner=held)
    p.attach_media(MediaCache(tmp_path / "media"))
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    held.release_all()  # identify, then the rewards' pictures one after the other
    rewards = set(dict(p.state.pictures))
    assert rewards == {"/api/v1/media/espresso.png", "/api/v1/media/croissant.png",
                       "/api/v1/media/cappuccino.png"}
    p.open_shop()
    job, done = held.jobs.pop(0)  # the catalog
    from kiosk.runner import SyncRunner

    SyncRunner().submit(job, done)
    assert p.state.screen == Screen.SHOP and set(dict(p.state.pictures)) == rewards
    assert len(held.jobs) == 1  # one picture job queued, not the whole menu
    p.choose_category(1)
    assert p.state.picture("/api/v1/media/latte.png") is None  # the tile shows the initial
    held.release_all()  # each finished picture queues the next
    wanted = {i.image for i in p.state.catalog.items if i.available and i.image}  # type: ignore
    assert set(dict(p.state.pictures)) == wanted | rewards  # the espresso's once for both
    latte = p.state.picture("/api/v1/media/latte.png")
    assert latte is not None and Path(latte).read_bytes().startswith(b"\x89PNG")
    assert Path(latte).parent == tmp_path / "media"
    # the next customer: the pictures are on disk and in the state, nothing is fetched again
    fetched = len(hub.called("media"))
    p.reset()
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    p.open_shop()
    held.release_all()
    assert len(hub.called("media")) == fetched


def test_a_picture_that_cannot_be_had_leaves_the_initial(clock: FakeClock, tmp_path: Path) -> None:
    p, hub, *_ = make_presenter(clock)
    p.attach_media(MediaCache(tmp_path / "media"))
    hub.fail["media"] = HubError(HubReason.OFFLINE, "down")
    p.begin()
    type_number(p, KNOWN_DIGITS)
    p.submit_phone()
    p.open_shop()
    assert p.state.screen == Screen.SHOP and p.state.pictures == ()
    asked = len(hub.called("media"))
    assert asked == 7  # the distinct pictures of rewards and available items, once each
    p.choose_category(1)
    p.back()
    p.back()
    p.open_shop()  # the same customer: failed pictures are not asked again
    assert len(hub.called("media")) == asked


def test_an_ended_or_won_out_lottery_says_so_and_leaves_rewards(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock)
    p.open_lottery()
    keys(p, DEMO_WIN_CODE)
    hub.fail["play_lottery"] = HubError(HubReason.NO_PRIZES, "no prizes")
    hub.lottery_list.clear()
    p.submit_code()
    assert p.state.screen == Screen.LOTTERY
    assert p.state.message.render().startswith("Sorry, every prize")  # type: ignore[union-attr]
    assert p.state.lotteries == ()  # asked again at once: Rewards stops offering it
    hub.fail["play_lottery"] = HubError(HubReason.ENDED, "ended")
    p.submit_code()
    assert p.state.message.render() == "Sorry, this lottery has just ended."  # type: ignore


def test_a_long_qr_is_not_sent_as_a_code(clock: FakeClock) -> None:
    p, hub, *_ = at_rewards(clock)
    p.open_lottery()
    p.card_scanned("https://example.com/" + "x" * 300)
    assert hub.called("play_lottery") == []
    assert p.state.message.render().startswith("We do not know this code")  # type: ignore
    keys(p, "A" * 80)
    assert len(p.state.code_display) == 64  # the hub's longest code
