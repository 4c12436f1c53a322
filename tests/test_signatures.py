from bot.signatures import crc_response_token, signature_for, signature_valid
from tests.fixtures.webhook import sign


# Published vectors from a peer project's test suite (dbgeek/twitter-bot1, twitterbot1_test.go).
def test_it_answers_the_published_crc_example():
    assert crc_response_token("ss", "helloWorld") == "sha256=YFpPr1o5UmzuIUDQn+BqYQ14kFOjWiWYc7oNiVymMgg="


def test_it_accepts_the_published_signature_example():
    assert signature_valid("bbbbbb", b"html body", "sha256=P/M6xYi2AxkjB8C36xD3AfjT5XuOx3dWgw9EVXCYA2U=")


def test_it_agrees_with_the_documented_algorithm():
    body = '{"for_user_id":"1","text":"café ☕"}'.encode()
    assert signature_for("s3cret", body) == sign(body, "s3cret")


def test_it_rejects_a_tampered_body():
    header = sign(b'{"a":1}', "s3cret")
    assert not signature_valid("s3cret", b'{"a":2}', header)


def test_it_rejects_the_wrong_secret_a_missing_header_and_garbage():
    body = b'{"a":1}'
    assert not signature_valid("other", body, sign(body, "s3cret"))
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, "")
    assert not signature_valid("s3cret", body, "sha256=\udcff not base64")
    assert not signature_valid("", body, sign(body, ""))
