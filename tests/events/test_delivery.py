"""bot.events.delivery: a delivery body is read by the parser of its format, whichever it is."""

from bot.events import parse_delivery


def test_an_unknown_format_yields_no_events():
    parsed = parse_delivery({"data": [{"id": "1"}]})
    assert parsed.events == () and parsed.kinds == ("unknown",)
