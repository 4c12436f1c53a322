import re

import pytest
from twitter_text import extract_urls, parse_tweet

from bot.recognition import DetectedLabel
from bot.replies import ANIMAL_LABELS, compose_reply, merge_labels, shows_animal

# How X finds mentions, hashtags and cashtags (twitter-text's rules, simplified):
# a marker not preceded by a word character, followed by a name.
MENTION = re.compile(r"(?:^|[^A-Za-z0-9_!#$%&*@＠])[@＠]([A-Za-z0-9_]{1,20})")
HASHTAG = re.compile(r"(?:^|[^\w&])[#＃](\w+)")
CASHTAG = re.compile(r"(?:^|\s)\$([A-Za-z]{1,6})\b")


def label(name, confidence=90.0, *parents, moderation=False):
    return DetectedLabel(name=name, confidence=confidence, parents=tuple(parents), moderation=moderation)


def reply(labels=(), *, username="ana", photo_count=1, usable_photo_count=None, flagged=False):
    return compose_reply(
        username=username,
        photo_count=photo_count,
        usable_photo_count=photo_count if usable_photo_count is None else usable_photo_count,
        labels=list(labels),
        flagged=flagged,
    )


def assert_postable(text):
    result = parse_tweet(text)
    assert result.valid, text
    assert 0 < result.weightedLength <= 280
    assert text == " ".join(text.split())


DOG = [label("Dog", 99.0, "Animal", "Pet"), label("Pet", 98.0), label("Animal", 97.0), label("Mammal", 96.0)]
CAR = [label("Car", 99.0, "Vehicle", "Transportation"), label("Vehicle", 98.0, "Transportation")]


def test_it_lists_what_it_sees_on_a_photo_with_an_animal():
    assert reply(DOG) == "Hi @ana. On your image, I can recognise: Dog, Pet, Animal, Mammal."


def test_it_says_images_when_there_are_several():
    assert reply(DOG, photo_count=3) == "Hi @ana. On your images, I can recognise: Dog, Pet, Animal, Mammal."


def test_it_says_so_when_there_is_no_animal():
    assert reply(CAR) == "Hi @ana. I don't see an animal on your image, but I can recognise: Car, Vehicle."


def test_a_flagged_photo_gets_a_neutral_reply_that_describes_nothing():
    text = reply(DOG + [label("Explicit Nudity", 95.0, moderation=True)], flagged=True)

    assert text == "Hi @ana. Thanks for the mention. I can't describe this image."
    for name in ("Dog", "Pet", "Animal", "Nudity"):
        assert name not in text


def test_a_post_without_a_photo_is_told_what_the_bot_does():
    assert reply(photo_count=0, usable_photo_count=0) == (
        "Hi @ana. I recognise what is on photos, but I found no photo in your post. "
        "Mention me in a post with a photo and I'll tell you what I see."
    )


def test_photos_that_could_not_be_read_get_an_apology():
    assert reply(photo_count=1, usable_photo_count=0) == "Hi @ana. Sorry, I couldn't read your image."
    assert reply(photo_count=2, usable_photo_count=0) == "Hi @ana. Sorry, I couldn't read your images."


def test_a_photo_without_labels_gets_could_not_recognise_anything():
    assert reply([]) == "Hi @ana. Sorry, I couldn't recognise anything on your image."


def test_moderation_labels_are_never_listed():
    text = reply(CAR + [label("Suggestive", 60.0, moderation=True)])

    assert "Suggestive" not in text
    assert text.endswith("Car, Vehicle.")


def test_label_text_is_not_html_escaped():
    assert reply([label("Fish & Chips", 95.0)]).endswith("I can recognise: Fish & Chips.")


def test_labels_of_several_photos_are_merged():
    first_photo = [label("Dog", 91.0, "Animal"), label("Grass", 88.0, "Plant")]
    second_photo = [label("dog", 97.5, "Canine"), label("Ball", 88.0, "Toy"), label("Grass", 80.0)]

    merged = merge_labels(first_photo + second_photo)

    assert [(item.name, item.confidence) for item in merged] == [("dog", 97.5), ("Ball", 88.0), ("Grass", 88.0)]
    assert merged[0].parents == ("Canine", "Animal")
    assert reply(first_photo + second_photo, photo_count=2) == (
        "Hi @ana. On your images, I can recognise: dog, Ball, Grass."
    )


def test_an_animal_is_recognised_from_its_parents():
    retriever = label("Golden Retriever", 98.0, "Dog", "Canine", "Animal", "Mammal", "Pet")

    assert "Golden Retriever" not in ANIMAL_LABELS
    assert shows_animal([retriever])
    assert not shows_animal(CAR)
    assert not shows_animal([label("Teddy Bear", 95.0, "Toy")])
    assert reply([retriever]) == "Hi @ana. On your image, I can recognise: Golden Retriever."


@pytest.mark.parametrize("username", [None, "", "ana-bot", "a" * 16, "@ana", "ana\n", "анна", "ana @eve"])
def test_an_invalid_username_gets_a_greeting_without_a_mention(username):
    text = reply(DOG, username=username)

    assert text == "Hi there. On your image, I can recognise: Dog, Pet, Animal, Mammal."
    assert MENTION.findall(text) == []


def test_the_longest_valid_username_is_mentioned():
    assert reply(CAR, username="A_Very_Long_Nam").startswith("Hi @A_Very_Long_Nam. ")


@pytest.mark.parametrize(
    "name",
    ["@someone", "＠someone", "Hello @someone", "example.com", "Visit https://evil.example/x", "#hashtag", "$AAPL",
     "www.example.org/path"],
)
def test_a_label_never_becomes_a_mention_hashtag_or_link(name):
    text = reply([label(name, 99.0), label("Car", 90.0)])

    assert MENTION.findall(text) == ["ana"]
    assert HASHTAG.findall(text) == []
    assert CASHTAG.findall(text) == []
    assert extract_urls(text) == []
    assert text.endswith(", Car.")
    assert_postable(text)


def test_fifty_long_labels_are_cut_to_the_most_confident_that_fit():
    labels = [label(f"Remarkably Long Label Name Number {n:02}", 99.0 - n / 10) for n in range(50)]

    text = reply(list(reversed(labels)))

    assert_postable(text)
    listed = text.split(": ", 1)[1].rstrip(".").split(", ")
    assert listed == [item.name for item in labels[: len(listed)]]
    assert len(listed) >= 5
    # It is the most that fit: one more would be too long.
    one_more = text[:-1] + f", {labels[len(listed)].name}."
    assert parse_tweet(one_more).weightedLength > 280


@pytest.mark.parametrize("name_pattern", ["🐶 Dog Emoji {n:02}", "日本語のラベル{n:02}", "👩‍👩‍👧‍👦 Family {n:02}"])
def test_emoji_and_cjk_labels_are_counted_as_x_counts_them(name_pattern):
    labels = [label(name_pattern.format(n=n), 99.0 - n / 10, "Animal") for n in range(50)]

    text = reply(labels)

    assert_postable(text)
    assert text.startswith("Hi @ana. On your image, I can recognise: ")
    listed = text.split(": ", 1)[1].rstrip(".").split(", ")
    assert listed == [item.name for item in labels[: len(listed)]]
    one_more = text[:-1] + f", {labels[len(listed)].name}."
    assert parse_tweet(one_more).weightedLength > 280


def test_a_single_enormous_label_still_gives_a_valid_reply():
    text = reply([label("Ｗ" * 400, 99.0)], username="A_Very_Long_Nam", photo_count=4)

    assert_postable(text)
    assert text.startswith("Hi @A_Very_Long_Nam. I don't see an animal on your images, but I can recognise: ＷＷＷ")


def test_labels_that_are_empty_once_cleaned_are_left_out():
    assert reply([label("@#$", 99.0), label("\u0000\ufeff", 98.0)]) == (
        "Hi @ana. Sorry, I couldn't recognise anything on your image."
    )
    assert reply([label("@Dog", 99.0, "Animal"), label("Dog", 98.0)]) == (
        "Hi @ana. On your image, I can recognise: Dog."
    )
