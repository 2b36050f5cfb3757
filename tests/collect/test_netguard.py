"""Tests for monitor.collect.netguard: URL gate, address classification and the guarded resolver."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address

import pytest

from monitor.collect.netguard import (
    BlockedAddress,
    BlockedURL,
    GuardedResolver,
    MalformedURL,
    check_url,
    is_public_ip,
    resolve_redirect,
)
from tests.conftest import FakeResolver

REFUSED_URLS = [
    "http://127.0.0.1/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://100.100.100.100/",  # Alibaba Cloud metadata
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://[2002:6440:1::]/",  # 6to4 around 100.64.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0x7f.0.0.1/",
    "http://127.0.0.1./",
    "http://１２７.0.0.1/",  # fullwidth digits: IDNA maps them to 127.0.0.1
    "http://127.0.0.1:8888\\@example.com/",
    "http://example.com\\@127.0.0.1/",
    "http://exa mple.com/",
    "http://example.com/\r\nX-Injected: 1",
    "http://example.com/\u202e",
    "http://%31%32%37.0.0.1/",
    "http://[fe80::1%25eth0]/",
    "file:///etc/passwd",
    "FILE:/etc/passwd",
    "data:",
    "data:text/xml,<rss/>",
    "ftp://x",
    "gopher://x",
    "javascript:alert(1)",
    "//example.com/feed",
    "example.com/feed",
    "",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_refused_urls(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url, allow_private=False)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "http://[2606:4700::1111]/",
        "https://www.japantimes.co.jp/feed/",
        "HTTPS://Example.COM/feed?x=1#frag",
        "http://bücher.example/rss",
        "http://[2002:5db8:d822::]/",  # 6to4 around a public address
        "http://[64:ff9b::5db8:d822]/",  # NAT64 around a public address
        "http://user:pw@example.com:8080/feed",
    ],
)
def test_allowed_urls(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/feed", "http://[::1]/", "http://10.1.2.3/", "http://169.254.169.254/"],
)
def test_allow_private_admits_private_literals(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.0.1:8888\\@example.com/",
        "file:///etc/passwd",
        "gopher://x",
    ],
)
def test_parser_tricks_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url(url, allow_private=True)


def test_blocked_message_names_host_and_ip() -> None:
    with pytest.raises(BlockedURL) as info:
        check_url("http://[::ffff:127.0.0.1]:8080/x", allow_private=False)
    assert info.value.ip == "::ffff:7f00:1"
    assert "::ffff:7f00:1" in str(info.value)
    with pytest.raises(BlockedURL) as info:
        check_url("file:///etc/passwd", allow_private=False)
    assert "file" in str(info.value)


@pytest.mark.parametrize("url", ["http:///feed", "http://h:99999/", "http://ex!ample.com/"])
def test_malformed_urls_are_a_blockedurl_subclass(url: str) -> None:
    with pytest.raises(MalformedURL):
        check_url(url, allow_private=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("100.63.255.255", True),
        ("100.64.0.0", False),
        ("100.127.255.255", False),
        ("100.128.0.0", True),
        ("172.15.255.255", True),
        ("172.16.0.0", False),
        ("172.31.255.255", False),
        ("172.32.0.0", True),
        ("198.17.255.255", True),
        ("198.18.0.0", False),
        ("198.19.255.255", False),
        ("198.20.0.0", True),
        ("192.0.0.8", False),
        ("192.0.2.1", False),
        ("192.88.99.1", False),
        ("198.51.100.7", False),
        ("203.0.113.9", False),
        ("0.1.2.3", False),
        ("127.255.255.255", False),
        ("169.254.0.1", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("2606:4700::1111", True),
        ("2a00:1450:4001:800::200e", True),
        ("::", False),
        ("::1", False),
        ("::127.0.0.1", False),  # deprecated IPv4-compatible form
        ("::ffff:93.184.216.34", True),
        ("::ffff:10.0.0.1", False),
        ("::ffff:100.64.0.1", False),
        ("64:ff9b::5db8:d822", True),
        ("64:ff9b::a00:1", False),
        ("64:ff9b:1::1", False),  # local-use NAT64
        ("2002:5db8:d822::1", True),
        ("2002:a00:1::", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("2001:db8::1", False),
        ("3fff::1", False),
        ("100::1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fe80::1", False),
        ("fec0::1", False),  # site-local
        ("ff02::1", False),
    ],
)
def test_is_public_ip(address: str, public: bool) -> None:
    assert is_public_ip(ip_address(address)) is public


def test_resolve_redirect() -> None:
    base = "http://93.184.216.34/a/feed"
    assert resolve_redirect(base, "/b/feed", False) == "http://93.184.216.34/b/feed"
    assert resolve_redirect(base, "rss", False) == "http://93.184.216.34/a/rss"
    assert resolve_redirect(base, "https://example.com/x", False) == "https://example.com/x"
    for location in [
        "http://127.0.0.1:8080/",  # a public host redirecting to loopback
        "//169.254.169.254/latest/",
        "file:///etc/passwd",
        "\\\\127.0.0.1/x",
        "/x\r\nSet-Cookie: a=b",
        "javascript:alert(1)",
    ]:
        with pytest.raises(BlockedURL):
            resolve_redirect(base, location, False)


def test_guarded_resolver_drops_private_answers() -> None:
    # A rebinding-style answer mixing public and private addresses keeps only the public one.
    fake = FakeResolver({"mixed.example": ["93.184.216.34", "127.0.0.1", "::1"]})
    results = asyncio.run(GuardedResolver(False, inner=fake).resolve("mixed.example", 80))
    assert [r["host"] for r in results] == ["93.184.216.34"]


def test_guarded_resolver_refuses_all_private() -> None:
    fake = FakeResolver({"rebind.example": ["169.254.169.254", "fd00::1"]})
    with pytest.raises(BlockedAddress) as info:
        asyncio.run(GuardedResolver(False, inner=fake).resolve("rebind.example", 80))
    err = info.value
    assert isinstance(err, OSError)
    assert isinstance(err, BlockedURL)
    assert err.host == "rebind.example"
    assert "169.254.169.254" in str(err)
    assert "fd00::1" in str(err)


def test_guarded_resolver_allow_private_passes_through() -> None:
    fake = FakeResolver({"intranet.example": ["10.0.0.5"]})
    results = asyncio.run(GuardedResolver(True, inner=fake).resolve("intranet.example", 80))
    assert [r["host"] for r in results] == ["10.0.0.5"]


def test_guarded_resolver_localhost_with_system_resolver() -> None:
    async def go() -> None:
        resolver = GuardedResolver(False)
        try:
            await resolver.resolve("localhost", 80)
        finally:
            await resolver.close()

    with pytest.raises(BlockedAddress) as info:
        asyncio.run(go())
    assert "localhost" in str(info.value)
    assert "127.0.0.1" in str(info.value) or "::1" in str(info.value)
