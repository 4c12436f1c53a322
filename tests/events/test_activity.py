"""bot.events.activity: realistic X Activity API deliveries become the same plain events."""

import copy

import pytest

from bot.events import OtherEvent, TweetDeleteEvent, TweetEvent, parse_delivery, samples as payloads
from bot.events.activity import posts_photos
from bot.events.samples import AUTHOR_ID, BOT_ID, BOT_NAME


def only_post(payload) -> TweetEvent:
    (post,) = parse_delivery(payload).tweets
    return post


class TestMentions:
    def test_it_reads_a_mention_whose_photo_is_only_named_by_its_media_key(self):
        post = payloads.v2_post()
        parsed = parse_delivery(payloads.activity_delivery(post, event_uuid="2080761390344937796"))
        (tweet,) = parsed.tweets
        assert parsed.for_user_x_id == BOT_ID and parsed.kinds == ("post.mention.create",)
        assert parsed.event_uuid == "2080761390344937796"
        assert tweet.x_id == post["id"] and tweet.author_x_id == AUTHOR_ID
        assert tweet.author_username == "ana"  # from includes.users
        assert tweet.mentions_bot and tweet.skip_reason == ""
        assert tweet.photos == () and tweet.media_keys_missing == tuple(post["attachments"]["media_keys"])
        assert tweet.needs_media_lookup
        assert tweet.posted_at.isoformat() == "2026-11-25T10:15:30+00:00"

    def test_it_takes_photos_when_includes_carry_their_media(self):
        post = payloads.v2_post(photos=2)
        keys = post["attachments"]["media_keys"]
        media = [payloads.v2_media(keys[0]), payloads.v2_media(keys[1], "video")]
        tweet = only_post(payloads.activity_delivery(post, media=media))
        assert [(p.position, p.media_type, p.is_thumbnail) for p in tweet.photos] == [(0, "photo", False), (1, "video", True)]
        assert "ext_tw_video_thumb" in tweet.photos[1].url  # a video's preview_image_url, as today's thumbnails
        assert tweet.media_keys_missing == () and not tweet.needs_media_lookup

    def test_a_mention_without_media_keys_needs_no_lookup(self):
        tweet = only_post(payloads.activity_delivery(payloads.v2_post(photos=0)))
        assert tweet.photos == () and tweet.media_keys_missing == () and not tweet.needs_media_lookup

    def test_it_reads_the_full_text_of_a_long_post_from_note_tweet(self):
        full = f"@{BOT_NAME} " + "a long story about my dog " * 20 + "🐶"
        tweet = only_post(payloads.activity_delivery(payloads.v2_post(note=full)))
        assert tweet.text == full and tweet.mentions_bot

    def test_it_keeps_unicode_and_emoji(self):
        text = f"@{BOT_NAME} was ist das? 🐕‍🦺 日本語 ñ"
        tweet = only_post(payloads.activity_delivery(payloads.v2_post(text=text)))
        assert tweet.text == text and tweet.mentions_bot

    def test_a_mention_in_the_reply_prefix_only_is_not_a_summons_without_the_event_type(self):
        post = payloads.v2_post(text=f"@{BOT_NAME} nice", replied_to=("1600000000000009999", "1500000000000000009"))
        post["display_text_range"] = [10, 14]
        tweet = only_post(payloads.activity_delivery(post, event_type="post.create"))
        assert not tweet.mentions_bot and tweet.skip_reason == "not addressed to the bot"

    def test_the_bots_own_post_is_marked_own(self):
        post = payloads.v2_post(author_id=BOT_ID, author_name=BOT_NAME)
        tweet = only_post(payloads.activity_delivery(post, users=[payloads.v2_user(BOT_ID, BOT_NAME)]))
        assert tweet.is_own and tweet.skip_reason == "own tweet"


class TestReferencedPosts:
    def test_a_quote_names_the_quoted_post(self):
        post = payloads.v2_post(photos=0, quoted="1600000000000000777")
        tweet = only_post(payloads.activity_delivery(post))
        assert tweet.is_quote and tweet.quoted_x_id == "1600000000000000777"
        assert tweet.needs_media_lookup  # the quoted post's photos

    def test_a_reply_under_someone_elses_photo_names_its_parent(self):
        post = payloads.v2_post(text=f"@{BOT_NAME} what is this?", photos=0, replied_to=("1600000000000000888", "1500000000000000009"))
        tweet = only_post(payloads.activity_delivery(post))
        assert tweet.in_reply_to_x_id == "1600000000000000888" and tweet.in_reply_to_user_x_id == "1500000000000000009"
        assert tweet.mentions_bot and not tweet.replies_to_bot and tweet.needs_media_lookup

    def test_a_reply_to_the_bot_itself_looks_nothing_up(self):
        post = payloads.v2_post(text="stop", photos=0, mention_bot=False, replied_to=("1900000000000000001", BOT_ID))
        tweet = only_post(payloads.activity_delivery(post, event_type="post.reply.create"))
        assert tweet.replies_to_bot and not tweet.needs_media_lookup

    def test_the_event_type_says_why_it_fired_for_the_bots_filter(self):
        post = payloads.v2_post(photos=0, mention_bot=False, quoted="1600000000000000777")
        assert only_post(payloads.activity_delivery(post, event_type="post.quote.create")).quotes_bot


class TestOtherEvents:
    def test_a_post_delete_is_a_deletion(self):
        parsed = parse_delivery(payloads.activity_delete("1600000000000000555"))
        assert parsed.deletions == (TweetDeleteEvent(x_id="1600000000000000555", author_x_id=AUTHOR_ID),)

    def test_an_unknown_event_type_is_kept(self):
        parsed = parse_delivery(payloads.activity_delivery(event_type="like.create", payload={"id": "1"}))
        assert parsed.events == (OtherEvent(kind="like.create"),) and parsed.kinds == ("like.create",)

    def test_the_replay_completion_event_is_recognised(self):
        (done,) = parse_delivery(payloads.replay_done("1700000000000000321")).replays_done
        assert done.job_id == "1700000000000000321" and done.state == "Complete"


JUNK = [None, True, 0, -1, 1.5, "", "x" * 10_000, "\ud800", "\x00", [], {}, [None], {"a": [1]}, "0001", 2**70]


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_junk_in_any_field_is_never_an_error(junk):
    base = payloads.activity_delivery(
        payloads.v2_post(photos=2, replied_to=("1600000000000000888", AUTHOR_ID), quoted="1600000000000000777")
    )
    paths = [("data",)] + [("data", key) for key in base["data"]] + [("data", "payload", key) for key in base["data"]["payload"]]
    paths += [("data", "includes", "users"), ("data", "filter", "user_id"), ("data", "payload", "attachments", "media_keys")]
    paths += [("data", "payload", "entities", "mentions"), ("data", "payload", "referenced_tweets")]
    for path in paths:
        payload = copy.deepcopy(base)
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = junk
        parsed = parse_delivery(payload)  # never raises
        for tweet in parsed.tweets:
            assert tweet.x_id.isdigit() and all(p.url.startswith("https://") for p in tweet.photos)


def test_posts_photos_reads_a_lookup_answer():
    post = payloads.v2_post(photos=1, author_id="1500000000000000009")
    key = post["attachments"]["media_keys"][0]
    answer = {
        "data": [post, "junk"],
        "includes": {"media": [payloads.v2_media(key)], "users": [payloads.v2_user("1500000000000000009", "bo")]},
    }
    found = posts_photos(answer)
    assert list(found) == [post["id"]]
    assert found[post["id"]].author_username == "bo" and len(found[post["id"]].photos) == 1
    assert posts_photos({"data": "junk"}) == {}
