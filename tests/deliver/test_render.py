"""Messages rendered for every channel: bounded, deterministic, links only when safe."""

from __future__ import annotations

from monitor.deliver.render import (
    TEXT_MAX,
    Message,
    render_digest,
    render_single,
    render_test,
)
from tests.deliver.test_channel import TOKYO, item


def test_large_digest_text_fits_and_says_how_many_more() -> None:
    items = [item(title=f"Story number {n}", summary="x" * 500) for n in range(200)]
    message = render_digest(items, TOKYO, "batch-1-200-200", "200 new India–Japan matches")
    assert len(message.text) <= TEXT_MAX
    assert "more (see the email digest)" in message.text
    assert "Story number 199" in message.html  # the email lists them all


def test_unsafe_links_are_never_linked() -> None:
    for url in ("javascript:alert(1)", "data:text/html,<b>x</b>", "https://a.example/x y"):
        message = render_single(item(url=url), TOKYO, "delivery-1")
        assert "href" not in message.html
        assert url not in message.text and "javascript" not in message.html


def test_messages_are_deterministic_and_bounded() -> None:
    one = render_single(item(title="x" * 1000), TOKYO, "delivery-3")
    assert one == render_single(item(title="x" * 1000), TOKYO, "delivery-3")
    assert len(one.title) <= 250 and one.title.endswith("— The Japan Times")
    many = render_single(item(why=["w" * 300] * 100, sectors=["s"] * 100), TOKYO, "delivery-4")
    assert len(many.text) <= TEXT_MAX and many.text.endswith("ref: delivery-4")
    odd = render_test("Name\r\nwith <tags>", "test-Name <x>-0")
    assert odd.message_id.startswith("<test-Name--x--0-") and "\n" not in odd.title
    assert "&lt;tags&gt;" in odd.html
    assert isinstance(odd, Message)
