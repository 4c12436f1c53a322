import math
import random
import re
import unicodedata

import pytest
from twitter_text import extract_urls, parse_tweet
from twitter_text.regexp.latin_accent_chars import latin_accent_chars
from twitter_text.regexp.punct import punct
from twitter_text.regexp.spaces_group import spaces_group

from bot.recognition import DetectedLabel
from bot.replies import ANIMAL_LABELS, REPLY_VARIANTS, compose_reply, merge_labels, shows_animal

# The installed twitter_text (twitter-text-parser) has extract_urls but none of the other
# extractors: these follow twitter-text's own rules (js/src/extract*WithIndices.js and the
# regexp/ they use), without the pass that drops hashtags overlapping a URL (it only removes).
_MENTION = re.compile(
    r"(?:^|[^a-zA-Z0-9_!#$%&*@＠]|(?:^|[^a-zA-Z0-9_+~.-])(?:rt|RT|rT|Rt):?)"
    r"[@＠]([a-zA-Z0-9_]{1,20})(?:/[a-zA-Z][a-zA-Z0-9_-]{0,24})?"
)
_END_MENTION = re.compile(rf"[@＠{latin_accent_chars.pattern}]|://")
_CASHTAG = re.compile(rf"(?:^|[{spaces_group}])\$([a-z]{{1,6}}(?:[._][a-z]{{1,2}})?)(?=$|\s|[{punct}])", re.IGNORECASE)
_HASHTAG_SPECIAL = "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\xb7"


def extract_mentioned_screen_names(text):
    return [match[1] for match in _MENTION.finditer(text) if not _END_MENTION.match(text, match.end())]


def extract_cashtags(text):
    return _CASHTAG.findall(text)


def _hashtag_alpha(character):
    return unicodedata.category(character)[0] in "LM"


def _hashtag_alphanumeric(character):
    return _hashtag_alpha(character) or unicodedata.category(character) == "Nd" or character in _HASHTAG_SPECIAL


def extract_hashtags(text):
    tags = []
    for start, sign in enumerate(text):
        if sign not in "#＃" or text[start + 1 : start + 2] in ("\ufe0f", "\u20e3"):
            continue
        before = text[start - 1] if start else "^"
        if before not in "\ufe0e\ufe0f" and (_hashtag_alphanumeric(before) or before == "&"):
            continue
        end = start + 1
        while end < len(text) and _hashtag_alphanumeric(text[end]):
            end += 1
        tag = text[start + 1 : end]
        if any(map(_hashtag_alpha, tag)) and not (text[end : end + 1] in ("#", "＃") or text.startswith("://", end)):
            tags.append(tag)
    return tags


def entities(text):
    """Everything X would turn into a link in text."""
    return {
        "mentions": extract_mentioned_screen_names(text),
        "hashtags": extract_hashtags(text),
        "cashtags": extract_cashtags(text),
        "urls": extract_urls(text),
    }


def only_the_author(username):
    return {"mentions": [username] if username else [], "hashtags": [], "cashtags": [], "urls": []}


def label(name, confidence=90.0, *parents, moderation=False):
    return DetectedLabel(name=name, confidence=confidence, parents=tuple(parents), moderation=moderation)


def reply(labels=(), *, username="ana", photo_count=1, usable_photo_count=None, flagged=False, variant=0, reference=""):
    return compose_reply(
        username=username,
        photo_count=photo_count,
        usable_photo_count=photo_count if usable_photo_count is None else usable_photo_count,
        labels=list(labels),
        flagged=flagged,
        variant=variant,
        reference=reference,
    )


def assert_postable(text):
    result = parse_tweet(text)
    assert result.valid, text
    assert 0 < result.weightedLength <= 280
    assert text == " ".join(text.split())


REFERENCE = "about your post of 26 Nov, 10:15:30 UTC"
# What bot.services.replying gives: the tweet's X id, a bare number that X shows as text.
ID_REFERENCE = "about your post 1999999999999999999"


DOG = [label("Dog", 99.0, "Animal", "Pet"), label("Pet", 98.0), label("Animal", 97.0), label("Mammal", 96.0)]
CAR = [label("Car", 99.0, "Vehicle", "Transportation"), label("Vehicle", 98.0, "Transportation")]
LONG_LABELS = [label(f"Remarkably Long Label Name Number {n:02}", 99.0 - n / 10) for n in range(50)]
LONG_ANIMALS = [label(item.name, item.confidence, "Animal") for item in LONG_LABELS]

# Every kind of reply, by the arguments that give it.
KINDS = {
    "animal": {"labels": DOG},
    "animal, long list": {"labels": LONG_ANIMALS},
    "no_animal": {"labels": CAR},
    "no_animal, long list": {"labels": LONG_LABELS},
    "no_labels": {"labels": []},
    "no_photo": {"labels": [], "photo_count": 0, "usable_photo_count": 0},
    "unreadable": {"labels": DOG, "photo_count": 2, "usable_photo_count": 0},
    "flagged": {"labels": [*DOG, label("Explicit Nudity", 95.0, moderation=True)], "flagged": True},
    "flagged, long list": {"labels": LONG_ANIMALS, "flagged": True, "photo_count": 4},
}


def listed(text):
    """The label names a reply lists, without their confidences."""
    names = text.split("recognise: ", 1)[1].split(". ", 1)[0].removesuffix(".").split(", ")
    return [re.sub(r" \(\d+%\)$", "", name) for name in names]


def test_it_lists_what_it_sees_on_a_photo_with_an_animal():
    assert reply(DOG) == "Hi @ana. On your image, I can recognise: Dog, Pet, Animal, Mammal."


def test_it_says_images_when_there_are_several():
    assert reply(DOG, photo_count=3) == "Hi @ana. On your images, I can recognise: Dog, Pet, Animal, Mammal."


def test_it_says_so_when_there_is_no_animal():
    assert reply(CAR) == "Hi @ana. I don't see an animal on your image, but I can recognise: Car, Vehicle."


def test_a_flagged_photo_gets_a_neutral_reply_that_describes_nothing():
    text = reply([*DOG, label("Explicit Nudity", 95.0, moderation=True)], flagged=True)

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
    text = reply([*CAR, label("Suggestive", 60.0, moderation=True)])

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
    assert reply(first_photo + second_photo, photo_count=2) == ("Hi @ana. On your images, I can recognise: dog, Ball, Grass.")


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
    assert entities(text) == only_the_author(None)


def test_the_longest_valid_username_is_mentioned():
    assert reply(CAR, username="A_Very_Long_Nam").startswith("Hi @A_Very_Long_Nam. ")


# Variants: other wordings for when X refuses a reply as a duplicate.


def test_variant_one_gives_each_label_its_confidence():
    assert reply(DOG, variant=1) == ("Hi @ana. On your image, I can recognise: Dog (99%), Pet (98%), Animal (97%), Mammal (96%).")
    assert reply(CAR, variant=1) == ("Hi @ana. I don't see an animal on your image, but I can recognise: Car (99%), Vehicle (98%).")


def test_the_confidence_shown_is_rounded_down_so_only_a_real_100_shows_100():
    labels = [label("Dog", 100.0, "Animal"), label("Pet", 99.99), label("Cat", 99.5), label("Fur", 50.0)]

    assert reply(labels, variant=1).endswith("recognise: Dog (100%), Pet (99%), Cat (99%), Fur (50%).")


def test_variant_one_words_the_replies_without_labels_differently():
    assert reply(DOG, flagged=True, variant=1) == ("Hi @ana. Thanks for tagging me, but I can't say anything about this image.")
    assert reply(DOG, flagged=True, photo_count=2, variant=1).endswith("anything about these images.")
    assert reply(photo_count=0, usable_photo_count=0, variant=1) == (
        "Hi @ana. I couldn't find a photo in your post. "
        "I describe photos: mention me in a post that has one and I'll tell you what's on it."
    )
    assert reply(photo_count=1, usable_photo_count=0, variant=1) == (
        "Hi @ana. Sorry, I wasn't able to open your image, so I can't tell you what's on it."
    )
    assert reply(photo_count=2, usable_photo_count=0, variant=1) == (
        "Hi @ana. Sorry, I wasn't able to open your images, so I can't tell you what's on them."
    )
    assert reply([], variant=1) == "Hi @ana. I looked at your image, but I couldn't make out anything I can name."


def test_variant_two_adds_the_callers_reference_to_variant_one():
    for arguments in KINDS.values():
        one = reply(**arguments, variant=1)
        two = reply(**arguments, variant=2, reference=REFERENCE)

        assert two.endswith(" This reply is about your post of 26 Nov, 10:15:30 UTC.")
        if "recognise: " not in one:  # with labels, the reference may leave fewer of them room
            assert two == f"{one} This reply is about your post of 26 Nov, 10:15:30 UTC."
    assert reply(DOG, variant=2, reference=REFERENCE) == (
        "Hi @ana. On your image, I can recognise: Dog (99%), Pet (98%), Animal (97%), Mammal (96%). "
        "This reply is about your post of 26 Nov, 10:15:30 UTC."
    )


def test_the_reference_is_not_html_escaped():
    text = reply(DOG, variant=2, reference="about Ana's post & photo")

    assert text.endswith(" This reply is about Ana's post & photo.")


def test_variant_two_without_a_reference_still_differs_from_variant_one():
    for reference in ("", "  \n "):
        assert reply([], variant=2, reference=reference) == (
            "Hi @ana. I looked at your image, but I couldn't make out anything I can name. Have a nice day!"
        )
    assert reply(DOG, variant=2) == reply(DOG, variant=1) + " Have a nice day!"


@pytest.mark.parametrize("reference", [REFERENCE, ID_REFERENCE, ""])
@pytest.mark.parametrize("username", ["ana", None])
@pytest.mark.parametrize("kind", KINDS)
def test_the_variants_of_every_reply_differ_and_each_is_postable_with_no_other_entity(kind, username, reference):
    arguments = {**KINDS[kind], "username": username, "reference": reference}

    texts = [reply(**arguments, variant=variant) for variant in range(REPLY_VARIANTS)]

    assert len(set(texts)) == REPLY_VARIANTS, texts
    for text in texts:
        assert_postable(text)
        assert entities(text) == only_the_author(username), text
        assert text.startswith(f"Hi @{username}. " if username else "Hi there. ")


@pytest.mark.parametrize("reference", [REFERENCE, ID_REFERENCE])
@pytest.mark.parametrize("variant", range(REPLY_VARIANTS))
@pytest.mark.parametrize("labels", [LONG_LABELS, LONG_ANIMALS], ids=["no_animal", "animal"])
def test_every_variant_lists_the_most_confident_labels_that_fit(labels, variant, reference):
    text = reply(list(reversed(labels)), username="A_Very_Long_Nam", variant=variant, reference=reference)

    assert_postable(text)
    names = listed(text)
    assert names == [item.name for item in labels[: len(names)]]
    assert len(names) >= 3
    # It is the most that fit: one more would be too long.
    extra = labels[len(names)]
    extra_shown = f"{extra.name} ({math.floor(extra.confidence)}%)" if variant else extra.name
    last_shown = text.split("recognise: ", 1)[1].split(". ", 1)[0].removesuffix(".").split(", ")[-1]
    one_more = text.replace(f"{last_shown}.", f"{last_shown}, {extra_shown}.", 1)
    assert one_more != text
    assert parse_tweet(one_more).weightedLength > 280


@pytest.mark.parametrize("variant", [-1, 3, 10])
def test_a_variant_out_of_range_is_refused(variant):
    assert list(range(REPLY_VARIANTS)) == [0, 1, 2]
    with pytest.raises(ValueError, match="variant"):
        reply(DOG, variant=variant)


@pytest.mark.parametrize("reference", ["about evil.com", "about @eve", "about ＠eve", "#tag", "about $AAPL", "x\u202ey"])
@pytest.mark.parametrize("variant", range(REPLY_VARIANTS))
def test_a_reference_that_is_not_plain_words_is_refused_in_every_variant(reference, variant):
    with pytest.raises(ValueError, match="reference"):
        reply(DOG, variant=variant, reference=reference)


def test_a_very_long_reference_is_cut_to_fit():
    text = reply(DOG, variant=2, reference="about " + "your post " * 40)

    assert_postable(text)
    assert text.endswith("…")
    assert listed(text) == ["Dog"]


@pytest.mark.parametrize("variant", range(REPLY_VARIANTS))
def test_no_variant_of_a_flagged_reply_describes_the_photo(variant):
    labels = [*DOG, label("Explicit Nudity", 95.0, moderation=True)]

    text = reply(labels, flagged=True, variant=variant, reference=REFERENCE)

    for word in ("Dog", "Pet", "Animal", "Mammal", "Explicit", "Nudity", "recognise", "%"):
        assert word not in text


# Labels are plain words: nothing in them, or around them, becomes a link.


@pytest.mark.parametrize(
    "name",
    [
        "@someone",
        "＠someone",
        "Hello @someone",
        "example.com",
        "Visit https://evil.example/x",
        "#hashtag",
        "$AAPL",
        "www.example.org/path",
        "é．t.co",
        "x" * 41 + "evil.com" + "abc",
    ],
)
@pytest.mark.parametrize("variant", range(REPLY_VARIANTS))
def test_a_label_never_becomes_a_mention_hashtag_or_link(name, variant):
    text = reply([label(name, 99.0), label("Car", 90.0)], variant=variant, reference=REFERENCE)

    assert entities(text) == only_the_author("ana")
    assert ", Car" in text
    assert_postable(text)


def test_a_label_is_cleaned_before_it_is_cut_so_the_cut_cannot_make_a_link():
    name = "x" * 41 + "evil.com" + "abc"

    text = reply([label(name, 99.0)])

    assert listed(text) == ["x" * 41 + "evil com…"]
    assert extract_urls(text) == []


@pytest.mark.parametrize("filler", ["\u3164", "\u115f", "\u1160", "\uffa0"])
def test_a_label_keeps_no_letter_that_renders_as_nothing(filler):
    # The Hangul fillers are letters to isalnum(), but show as blanks: a reply could carry invisible text.
    text = reply([label(f"Dog{filler}{filler}", 99.0), label(filler * 5, 98.0), label(f"Sea{filler}Lion", 97.0)])

    assert filler not in text
    assert listed(text) == ["Dog", "Sea Lion"]


def test_a_label_is_read_in_its_place_in_the_reply():
    # Alone, X sees no link in "é．t.co"; after other text it sees "t.co".
    assert extract_urls("é．t.co") == []
    assert extract_urls("recognise: é．t.co.") == ["t.co"]

    assert reply([label("é．t.co", 99.0)]).endswith("recognise: é t co.")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Cat\nDog", "Cat Dog"),
        ("Jack-o'-Lantern (Toy)", "Jack-o'-Lantern (Toy)"),
        ("🐶 Dog Emoji", "Dog Emoji"),
        ("Ｗide 日本語 ラベル", "Ｗide 日本語 ラベル"),
        ("a.b/c:d_e", "a b c d e"),
        ("Tab\t\u200dJoin", "Tab Join"),
    ],
)
def test_only_letters_digits_spaces_and_simple_punctuation_are_kept(name, shown):
    assert listed(reply([label(name, 99.0)])) == [shown]


def test_the_entity_finders_find_what_x_would_link():
    """The ports of twitter-text's extractors used here do find entities."""
    assert extract_mentioned_screen_names("Hi @ana, ＠eve, RT@bob: a@b.c @x@ @café") == ["ana", "eve", "bob"]
    assert extract_hashtags("#cat, x#dog &#amp ＃猫 #123 #a#b #go:// #\ufe0f\u20e3 #é") == ["cat", "猫", "é"]
    assert extract_cashtags("$AAPL and $tsla.b, US$5") == ["AAPL", "tsla.b"]
    assert extract_urls("see evil.com") == ["evil.com"]


# Random labels made of what is dangerous on X.
NASTY_PIECES = [
    ".",
    "．",
    "。",
    "@",
    "＠",
    "#",
    "＃",
    "$",
    "＄",
    "/",
    "//",
    ":",
    "http",
    "https://",
    "t.co",
    "evil.com",
    "www",
    "com",
    "co",
    "👩\u200d👩\u200d👧",
    "\u200d",
    "\u0301",
    "e\u0301",
    "\u200f",
    "\u202e",
    "\u2066",
    "日本",
    "語",
    "\n",
    " ",
    "a",
    "Z",
    "ab",
    "RT",
    "0",
    "42",
    "_",
    "-",
    "é",
    "ñ",
    "&",
    "'",
    "(",
    ")",
    "\ufeff",
    "\u3000",
    "\ufe0f",
    "\u20e3",
]


def nasty_name(rng):
    return "".join(rng.choice(NASTY_PIECES) for _ in range(rng.randint(1, 14)))


def test_random_nasty_labels_never_make_an_entity_in_any_variant():
    rng = random.Random(20251126)
    raw_with_entities = 0
    cases = 1000
    for _ in range(cases):
        names = [nasty_name(rng) for _ in range(rng.randint(1, 4))]
        labels = [label(name, rng.uniform(50.0, 100.0), *rng.choice([(), ("Animal",)])) for name in names]
        username = rng.choice(["ana", None, "A_Very_Long_Nam"])
        reference = rng.choice([REFERENCE, ""])
        if entities(f"Hi there. I can recognise: {', '.join(names)}.") != only_the_author(None):
            raw_with_entities += 1
        for variant in range(REPLY_VARIANTS):
            text = reply(labels, username=username, variant=variant, reference=reference)

            assert entities(text) == only_the_author(username), (names, text)
            assert_postable(text)
    # The names are dangerous: shown as they are, a good share of the replies would hold an entity.
    assert raw_with_entities > cases // 3


# --- The photo a mention points at ------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("variant", range(REPLY_VARIANTS))
@pytest.mark.parametrize("photos_in", ["quoted", "replied_to"])
def test_another_posts_photo_is_named_in_words_that_cannot_become_a_mention(kind, variant, photos_in):
    arguments = {"labels": [], "photo_count": 1, "usable_photo_count": 1, "flagged": False, **KINDS[kind]}
    text = compose_reply(username="ana", variant=variant, reference=ID_REFERENCE, photos_in=photos_in, photos_by="bo_2", **arguments)
    assert_postable(text)
    assert re.findall(r"@\w+", text) == ["@ana"]  # only the author is ever mentioned
    assert "your image" not in text


def test_the_reply_says_whose_photo_it_describes():
    text = compose_reply(
        username="ana", photo_count=1, usable_photo_count=1, labels=DOG, flagged=False, photos_in="replied_to", photos_by="bo"
    )
    assert text == "Hi @ana. On the image in the post you replied to (posted by bo), I can recognise: Dog, Pet, Animal, Mammal."


@pytest.mark.parametrize("photos_by", ["@bo", "bo.com", "a" * 16, "", "bo ana", "#tag"])
def test_an_author_name_that_is_not_a_plain_handle_is_left_out(photos_by):
    text = compose_reply(
        username="ana", photo_count=1, usable_photo_count=1, labels=DOG, flagged=False, photos_in="quoted", photos_by=photos_by
    )
    assert text == "Hi @ana. On the image in the post you quoted, I can recognise: Dog, Pet, Animal, Mammal."
