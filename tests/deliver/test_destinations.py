"""Destinations: ${VAR} secrets filled in, credentials files, redaction, channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.deliver.channel import send
from monitor.deliver.destinations import SecretMissing, channel_of, expand, load_credentials, redact
from monitor.deliver.render import render_test
from tests.deliver.test_channel import TOKEN

# --- secrets, redaction, channels -------------------------------------------------------------


def test_redact_hides_passwords_and_tokens() -> None:
    assert redact("mailtos://user:pass@smtp.example.org?to=a@example.org") == (
        "mailtos://user:***@smtp.example.org?to=a@example.org"
    )
    shown = redact(f"tgram://{TOKEN}/987?silent=yes")
    assert shown == "tgram://***/987?silent=yes"
    assert "ABC" not in redact("TGRAM://123456:ABC-token/987")
    assert redact("mailtos://user:${SMTP_PASS}@host") == "mailtos://user:***@host"
    assert "s3cret" not in redact("mailto://host?from=a@b.c&pass=s3cret")
    assert redact("discord://webhook_id/webhook_token") == "discord://***"
    assert redact("not a url") == "***"
    assert "hunter22" not in redact("mailto://u@h?to=x@hunter22.org", secrets=["hunter22"])


def test_expand_encodes_values_and_never_touches_the_rest() -> None:
    env = {"SMTP_PASS": "p@ss/w?rd", "TG": TOKEN}
    assert expand("mailtos://u:${SMTP_PASS}@h", env) == (
        "mailtos://u:p%40ss%2Fw%3Frd@h",
        ["p@ss/w?rd"],
    )
    assert expand("tgram://${TG}/1", env)[0] == f"tgram://{TOKEN}/1"
    assert expand("mailto://h?to=a@b.c", {}) == ("mailto://h?to=a@b.c", [])
    with pytest.raises(SecretMissing, match="SMTP_PASS"):
        expand("mailtos://u:${SMTP_PASS}@h", {})


def test_load_credentials(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "# alert secrets\n\nSMTP_PASS=a=b c\nexport TG_TOKEN='123:abc'\nQUOTED=\"x\"\n",
        encoding="utf-8",
    )
    assert load_credentials(path) == {"SMTP_PASS": "a=b c", "TG_TOKEN": "123:abc", "QUOTED": "x"}
    assert load_credentials(None) == {}
    path.write_text("SMTP_PASS=ok\nthis line has the secret\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":2: expected KEY=VALUE") as caught:
        load_credentials(path)
    assert "secret" not in str(caught.value).split(":2:")[1]


def test_channel_of_and_unknown_schemes() -> None:
    assert channel_of("mailtos://u:p@h") == "email"
    assert channel_of("mailto://h") == "email"
    assert channel_of("tgram://t/1") == "telegram"
    assert channel_of("ntfy://topic") == "ntfy"
    assert channel_of("nonsense") == "unknown"
    result = send("nosuchscheme://x/y", render_test("A", "t-5"), {})
    assert not result.ok and result.permanent and result.error
