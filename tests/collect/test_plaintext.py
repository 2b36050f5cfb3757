"""HTML fragments to plain text: markup and scripts gone, entities decoded, controls removed."""

from monitor.collect.plaintext import html_to_text, one_line


def test_markup_scripts_and_entities() -> None:
    html = (
        "<p>India&#8211;Japan <b>ties</b> &amp; trade</p><script>alert(1)</script>"
        "<style>p{}</style><p>Second<br>line &lt;b&gt;</p>"
    )
    assert html_to_text(html) == "India–Japan ties & trade\nSecond\nline <b>"


def test_control_and_bidi_characters_removed() -> None:
    assert html_to_text("a\x00b\u202ec\x1bd") == "abcd"


def test_plain_text_passes_and_whitespace_collapses() -> None:
    assert html_to_text("  plain   text \n\n\n more ") == "plain text\nmore"
    assert html_to_text(None) == ""


def test_one_line_has_no_line_breaks() -> None:
    assert one_line("Title\r\nInjected: header") == "Title Injected: header"
