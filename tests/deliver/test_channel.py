"""Alert rendering and real delivery: email to a local aiosmtpd, Telegram to a fake Bot API."""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.deliver.channel import send
from monitor.deliver.destinations import SecretMissing, expand
from monitor.deliver.render import (
    TEXT_MAX,
    Item,
    render_digest,
    render_single,
    render_test,
)
from tests.conftest import SmtpServer, TelegramServer

KOLKATA = ZoneInfo("Asia/Kolkata")
TOKYO = ZoneInfo("Asia/Tokyo")
TOKEN = "123456:ABC-token"
HOSTILE = "<script>alert(1)</script> & {{ 7*7 }} {% if x %}y{% endif %} ${HOME}"


def item(**overrides: object) -> Item:
    data: dict[str, object] = {
        "source_name": "The Japan Times",
        "title": "India and Japan sign semiconductor pact",
        "url": "https://www.japantimes.co.jp/news/2026/11/23/semicon-pact/?a=1&b=2",
        "published_at": datetime(2026, 11, 23, 6, 0, tzinfo=UTC),
        "sectors": ["Semiconductors", "Critical minerals"],
        "why": ['rule chips: semicon*, "rare earth"', "India–Japan: bilateral term in title"],
        "summary": "Tokyo and New Delhi agreed on a supply-chain framework.",
    }
    data.update(overrides)
    return Item(**data)  # type: ignore[arg-type]


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def tg_env(server: TelegramServer, **extra: str) -> dict[str, str]:
    return {"MONITOR_TELEGRAM_API": server.api, **extra}


# --- email ------------------------------------------------------------------------------------


def test_email_arrives_escaped_with_deterministic_message_id(smtp_server: SmtpServer) -> None:
    message = render_single(item(title=HOSTILE, summary=f"Body {HOSTILE}"), KOLKATA, "delivery-42")
    assert message.message_id == "<delivery-42.india-japan-monitor@localhost>"

    result = send(smtp_server.url, message, {})

    assert result == result.__class__(True, None, False)
    [received] = smtp_server.messages
    assert received["Subject"] == message.title
    assert received.get_all("Message-ID") == ["<delivery-42.india-japan-monitor@localhost>"]
    body = html_part(received)
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; {{ 7*7 }}" in body
    assert "{% if x %}y{% endif %}" in body and "${HOME}" in body  # never evaluated
    assert "Semiconductors, Critical minerals" in body
    assert "rule chips: semicon*, &quot;rare earth&quot;" in body
    assert "India–Japan: bilateral term in title" in body
    assert 'href="https://www.japantimes.co.jp/news/2026/11/23/semicon-pact/?a=1&amp;b=2"' in body
    assert smtp_server.envelopes == [("monitor@example.org", ["reader@example.org"])]


def test_email_shows_the_subscribers_local_time(smtp_server: SmtpServer) -> None:
    # 06:00 UTC is 11:30 in Kolkata and 15:00 in Tokyo.
    for tz, key in ((KOLKATA, "delivery-1"), (TOKYO, "delivery-2")):
        assert send(smtp_server.url, render_single(item(), tz, key), {}).ok
    india, japan = (html_part(m) for m in smtp_server.messages)
    assert "2026-11-23 11:30 IST" in india and "15:00" not in india
    assert "2026-11-23 15:00 JST" in japan and "11:30" not in japan


def test_crlf_in_title_cannot_inject_headers(smtp_server: SmtpServer) -> None:
    title = "Breaking\r\nBcc: x@evil.example\r\nX-Evil: 1\nSubject: spoofed"
    message = render_single(item(title=title), TOKYO, "delivery-7")
    assert "\r" not in message.title and "\n" not in message.title

    assert send(smtp_server.url, message, {}).ok

    [received] = smtp_server.messages
    assert received["Bcc"] is None and received["X-Evil"] is None
    assert received.get_all("Subject") == [message.title]
    assert smtp_server.envelopes[0][1] == ["reader@example.org"]


def test_long_summary_is_truncated_for_every_channel(
    smtp_server: SmtpServer, telegram_server: TelegramServer
) -> None:
    message = render_single(item(summary="word " * 1000 + "END"), KOLKATA, "delivery-9")
    assert len(message.text) <= TEXT_MAX and "END" not in message.text
    assert message.text.endswith("ref: delivery-9")  # the reference survives truncation
    assert len(message.html) < 4000 and "END" not in message.html

    assert send(smtp_server.url, message, {}).ok
    assert send(f"tgram://{TOKEN}/987", message, tg_env(telegram_server)).ok
    assert len(telegram_server.texts()[0]) <= 4096


def test_smtp_down_is_a_temporary_failure_and_recovers(smtp_server: SmtpServer) -> None:
    message = render_test("Asha", "test-asha-0")
    smtp_server.stop()

    result = send(smtp_server.url, message, {})

    assert not result.ok and not result.permanent
    assert result.error and "Connection error" in result.error and "refused" in result.error
    smtp_server.start()  # same port
    assert send(smtp_server.url, message, {}).ok
    assert len(smtp_server.messages) == 1


def test_smtp_temporary_and_permanent_refusals(smtp_server: SmtpServer) -> None:
    message = render_test("Asha", "test-asha-0")
    smtp_server.fail_next(1)
    temporary = send(smtp_server.url, message, {})
    assert not temporary.ok and not temporary.permanent

    smtp_server.reject.add("gone@example.org")
    refused = send(smtp_server.mail_url(to="gone@example.org"), message, {})
    assert not refused.ok and refused.permanent
    assert refused.error and "550" in refused.error and "No such user" in refused.error
    assert smtp_server.messages == []


def test_missing_secret_sends_nothing(smtp_server: SmtpServer) -> None:
    url = f"mailto://monitor:${{SMTP_PASS}}@127.0.0.1:{smtp_server.port}?to=reader@example.org"
    with pytest.raises(SecretMissing) as caught:
        expand(url, {"OTHER": "x"})
    assert caught.value.name == "SMTP_PASS"

    result = send(url, render_test("Asha", "t-1"), {"SMTP_PASS": ""})

    assert not result.ok and result.permanent
    assert result.error and "SMTP_PASS" in result.error
    assert smtp_server.messages == [] and smtp_server.envelopes == []


# --- Telegram ---------------------------------------------------------------------------------


def test_telegram_gets_plain_text_with_markup_characters_literal(
    telegram_server: TelegramServer,
) -> None:
    from apprise.plugins.telegram import NotifyTelegram

    title = "Chips <b>& rare_earth *deal* [1] " + HOSTILE
    message = render_single(item(title=title), TOKYO, "delivery-5")

    result = send(f"tgram://{TOKEN}/987", message, tg_env(telegram_server))

    assert result.ok, result.error
    assert telegram_server.tokens == [TOKEN]
    [sent] = telegram_server.messages
    assert str(sent["chat_id"]) == "987"
    shown = telegram_server.texts()[0]
    assert title in shown  # <, &, _, *, [, {{ }}, ${HOME} all arrive literally
    assert "2026-11-23 15:00 JST" in shown and "ref: delivery-5" in shown
    # The override applies to that call only; Apprise's class attribute is untouched.
    assert NotifyTelegram.notify_url == "https://api.telegram.org/bot"


def test_telegram_token_from_secret_and_owner_detection(telegram_server: TelegramServer) -> None:
    env = tg_env(telegram_server, TG_TOKEN=TOKEN)

    assert send("tgram://${TG_TOKEN}", render_test("Kenji", "t-2"), env).ok

    assert [m for m, _, _ in telegram_server.requests] == ["getUpdates", "sendMessage"]
    assert str(telegram_server.messages[0]["chat_id"]) == str(telegram_server.owner_chat_id)


def test_telegram_400_is_permanent_and_5xx_is_not(telegram_server: TelegramServer) -> None:
    message = render_test("Kenji", "t-3")
    telegram_server.fail_with(400, "Bad Request: can't parse entities: byte offset 7")
    bad = send(f"tgram://{TOKEN}/987", message, tg_env(telegram_server))
    assert not bad.ok and bad.permanent
    assert bad.error and "can't parse entities" in bad.error and TOKEN not in bad.error

    telegram_server.recover()
    telegram_server.fail_next(1, 502, "Bad Gateway")
    flaky = send(f"tgram://{TOKEN}/987", message, tg_env(telegram_server))
    assert not flaky.ok and not flaky.permanent
    assert send(f"tgram://{TOKEN}/987", message, tg_env(telegram_server)).ok


def test_telegram_connection_error_is_temporary_and_hides_the_token() -> None:
    from tests.conftest import free_port

    api = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    result = send(f"tgram://{TOKEN}/987", render_test("K", "t-4"), {"MONITOR_TELEGRAM_API": api})
    assert not result.ok and not result.permanent
    assert result.error and TOKEN not in result.error and "ABC-token" not in result.error


def test_apprise_debug_lines_reach_errors_but_not_logs(caplog: pytest.LogCaptureFixture) -> None:
    from tests.conftest import free_port

    caplog.set_level(logging.INFO)
    api = f"http://127.0.0.1:{free_port()}/bot"
    result = send(f"tgram://{TOKEN}/987", render_test("K", "t-6"), {"MONITOR_TELEGRAM_API": api})
    assert result.error and "Connection refused" in result.error  # from an Apprise DEBUG line
    apprise_records = [r for r in caplog.records if r.name.startswith("apprise")]
    assert apprise_records and all(r.levelno >= logging.INFO for r in apprise_records)
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


def test_send_from_a_subprocess_reaches_both_fakes(
    smtp_server: SmtpServer, telegram_server: TelegramServer
) -> None:
    code = (
        "import sys\n"
        "from monitor.deliver.channel import send; from monitor.deliver.render import render_test\n"
        "m = render_test('Sub', 'delivery-77')\n"
        "ok = [send(u, m, {}).ok for u in sys.argv[1:]]\n"
        "sys.exit(0 if all(ok) else 1)\n"
    )
    env = {**os.environ, "MONITOR_TELEGRAM_API": telegram_server.api}
    urls = [smtp_server.url, f"tgram://{TOKEN}/42"]
    done = subprocess.run([sys.executable, "-c", code, *urls], env=env, timeout=30, check=False)
    assert done.returncode == 0
    assert smtp_server.wait_for(1) and telegram_server.wait_for(1)
    assert smtp_server.messages[0]["Message-ID"] == "<delivery-77.india-japan-monitor@localhost>"


# --- digests and rendering --------------------------------------------------------------------


def test_digest_lists_every_item_and_its_other_outlets(
    smtp_server: SmtpServer, telegram_server: TelegramServer
) -> None:
    items = [
        item(title="Pact on chips", other_outlets=["DD News", "ORF"]),
        item(title="Rare earth deal", source_name="DD News", other_outlets=["The Japan Times"]),
        item(title="Bullet train update", source_name="ORF", sectors=[], why=[]),
    ]
    message = render_digest(items, KOLKATA, "batch-1-3-3", "Digest: 3 India–Japan stories")
    assert message.title == "Digest: 3 India–Japan stories"

    assert send(smtp_server.url, message, {}).ok
    assert send(f"tgram://{TOKEN}/987", message, tg_env(telegram_server)).ok

    body = html_part(smtp_server.messages[0])
    shown = telegram_server.texts()[0]
    for text in (body, shown, message.text):
        for title in ("Pact on chips", "Rare earth deal", "Bullet train update"):
            assert title in text
        assert "DD News, ORF" in text and "The Japan Times" in text


# --- TLS: contexts are shared between sends, never weakened for one another -----------------


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """aiosmtpd speaking implicit TLS with a self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = SmtpServer(ssl_context=context)
    yield server
    server.stop()


def test_tls_checks_stay_per_destination_when_contexts_are_shared(tls_smtp: SmtpServer) -> None:
    base = f"mailtos://127.0.0.1:{tls_smtp.port}?from=m@example.org&to=r@example.org&mode=ssl"
    message = render_test("channel-check", "email-1")

    refused = send(base, message, {})
    assert not refused.ok and "certificate" in (refused.error or "").lower()
    assert send(base + "&verify=no", message, {}).ok  # the operator opted out for this one
    again = send(base, message, {})  # the opt-out did not leak into the shared context
    assert not again.ok and "certificate" in (again.error or "").lower()
    assert len(tls_smtp.messages) == 1
