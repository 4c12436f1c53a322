"""bot.events.account_activity: realistic Account Activity deliveries become plain events."""

import copy

from bot.events import OtherEvent, TweetDeleteEvent, TweetEvent, parse_delivery, samples as payloads
from bot.events.samples import AUTHOR_ID, BOT_ID, BOT_NAME


def only_post(payload) -> TweetEvent:
    (post,) = parse_delivery(payload).tweets
    return post


def test_it_reads_a_mention_with_one_photo():
    tweet = payloads.tweet()
    post = only_post(payloads.delivery(tweet))
    assert post.x_id == tweet["id_str"]
    assert post.author_x_id == AUTHOR_ID and post.author_username == "ana"
    assert post.mentions_bot and not post.is_own and not post.is_repost
    assert post.skip_reason == ""
    assert [(p.position, p.media_type, p.is_thumbnail) for p in post.photos] == [(0, "photo", False)]
    assert post.photos[0].url.startswith("https://pbs.twimg.com/media/")
    assert post.posted_at.year == 2026


def test_it_keeps_ids_above_2_to_the_53_exact():
    tweet = payloads.tweet(tweet_id="1859000000000000123")
    tweet["id"] = float(tweet["id"])  # what a float-based parser would have made of it
    assert only_post(payloads.delivery(tweet)).x_id == "1859000000000000123"


def test_it_takes_the_full_text_entities_and_photos_of_a_truncated_post():
    full = f"@{BOT_NAME} " + "a long story about my dog " * 10 + "🐶"
    tweet = payloads.truncated(payloads.tweet(photos=2), full)
    post = only_post(payloads.delivery(tweet))
    assert post.text == full
    assert post.mentions_bot  # the mention is only in extended_tweet.entities
    assert len(post.photos) == 2


def test_it_takes_all_four_photos_from_extended_entities():
    post = only_post(payloads.delivery(payloads.tweet(photos=4)))
    assert [p.position for p in post.photos] == [0, 1, 2, 3]
    assert len({p.url for p in post.photos}) == 4


def test_it_never_takes_more_than_four():
    tweet = payloads.tweet(photos=4)
    tweet["extended_entities"]["media"].append(payloads.media("photo", 4, tweet["id_str"]))
    assert len(only_post(payloads.delivery(tweet)).photos) == 4


def test_it_keeps_the_real_type_of_a_gif_and_a_video():
    tweet = payloads.tweet(kinds=("animated_gif",))
    assert tweet["entities"]["media"][0]["type"] == "photo"  # as X sends it
    (gif,) = only_post(payloads.delivery(tweet)).photos
    assert gif.media_type == "animated_gif" and gif.is_thumbnail
    assert "tweet_video_thumb" in gif.url

    (video,) = only_post(payloads.delivery(payloads.tweet(kinds=("video",)))).photos
    assert video.media_type == "video" and video.is_thumbnail


def test_it_falls_back_to_entities_media_without_extended_entities():
    tweet = payloads.tweet(photos=2)
    del tweet["extended_entities"]
    photos = only_post(payloads.delivery(tweet)).photos
    assert len(photos) == 1 and photos[0].media_type == "photo"


def test_it_flags_a_repost():
    original = payloads.tweet()
    repost = payloads.tweet(text=f"RT @ana: {original['text']}", author_id="1500000000000000099", author_name="bob")
    repost["retweeted_status"] = original
    post = only_post(payloads.delivery(repost))
    assert post.is_repost and post.skip_reason == "repost"


def test_it_flags_a_quote_of_the_bot_as_summoning_it():
    bot_post = payloads.tweet(author_id=BOT_ID, author_name=BOT_NAME, mention_bot=False)
    quote = payloads.tweet(text="look what it said", mention_bot=False)
    quote.update(is_quote_status=True, quoted_status_id_str=bot_post["id_str"], quoted_status=bot_post)
    post = only_post(payloads.delivery(quote))
    assert post.is_quote and post.quotes_bot and not post.mentions_bot
    assert post.skip_reason == ""


def test_a_quote_of_someone_else_without_a_mention_is_not_for_the_bot():
    other = payloads.tweet(author_id="1500000000000000077", author_name="carl", mention_bot=False)
    quote = payloads.tweet(text="lol", mention_bot=False)
    quote.update(is_quote_status=True, quoted_status=other)
    post = only_post(payloads.delivery(quote))
    assert post.is_quote and not post.quotes_bot
    assert post.skip_reason == "not addressed to the bot"


def test_it_flags_the_bots_own_reply():
    own = payloads.tweet(
        author_id=BOT_ID, author_name=BOT_NAME, mention_bot=False, text="@ana Hi @ana. On your image, I can recognise: Dog."
    )
    own.update(in_reply_to_status_id_str="1600000000000000555", in_reply_to_user_id_str=AUTHOR_ID)
    post = only_post(payloads.delivery(own))
    assert post.is_own and post.skip_reason == "own tweet"


def test_it_flags_a_reply_to_the_bot():
    reply = payloads.tweet(text="@imagebot and this one?", mention_bot=False)
    reply.update(in_reply_to_status_id_str="1600000000000000555", in_reply_to_user_id_str=BOT_ID, in_reply_to_screen_name=BOT_NAME)
    post = only_post(payloads.delivery(reply))
    assert post.replies_to_bot and post.in_reply_to_x_id == "1600000000000000555"
    assert post.skip_reason == ""


def test_a_mention_only_in_the_reply_prefix_is_not_an_explicit_mention():
    text = "@imagebot @carl nice photo!"
    reply = payloads.tweet(text=text, mention_bot=False)
    reply["entities"]["user_mentions"] = [payloads.mention(start=0), payloads.mention("1500000000000000077", "carl", start=10)]
    reply.update(display_text_range=[16, len(text)], in_reply_to_status_id_str="1", in_reply_to_user_id_str="1500000000000000077")
    post = only_post(payloads.delivery(reply))
    assert not post.mentions_bot and post.skip_reason == "not addressed to the bot"


def test_it_keeps_unicode_and_emoji_text_intact():
    text = "@imagebot что это? 这是什么？ 🐈‍⬛🦜 café"
    post = only_post(payloads.delivery(payloads.tweet(text=text)))
    assert post.text == text


def test_it_reads_non_tweet_and_delete_events():
    tweet_id = "1600000000000000777"
    parsed = parse_delivery(
        payloads.delivery(
            tweet_delete_events=[payloads.delete_event(tweet_id)],
            favorite_events=[{"id": "a"}, {"id": "b"}],
            user_has_blocked=False,
        )
    )
    assert parsed.for_user_x_id == BOT_ID
    assert parsed.deletions == (TweetDeleteEvent(x_id=tweet_id, author_x_id=AUTHOR_ID),)
    assert OtherEvent(kind="favorite_events", count=2) in parsed.events
    assert set(parsed.kinds) == {"tweet_delete_events", "favorite_events"}


def test_it_reports_malformed_items_and_keeps_the_rest():
    good = payloads.tweet()
    bad = copy.deepcopy(good)
    bad["id_str"] = "not-an-id"
    bad["id"] = None
    parsed = parse_delivery(payloads.delivery(good, bad, "junk"))
    assert [p.x_id for p in parsed.tweets] == [good["id_str"]]
    assert len(parsed.problems) == 2
