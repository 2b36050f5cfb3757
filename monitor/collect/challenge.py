"""Bot-protection challenge pages (Cloudflare "Just a moment…", AWS WAF, Akamai, Imperva…): how
to tell one from a broken page, so a blocked source is reported as blocked and never bypassed.

Reads: a response's status, headers and the start of its body. Writes: nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import unescape

SCAN_BYTES = 64 * 1024  # challenge pages put their markers in the first few KiB
# Statuses challenge pages are served with: 403/503 (Cloudflare), 202/405 (AWS WAF), 429.
CHALLENGE_STATUSES = frozenset({202, 403, 405, 429, 503})

# Response headers that say so outright, whatever the body.
_HEADERS = (
    ("cf-mitigated", "challenge", "Cloudflare challenge"),
    ("x-amzn-waf-action", "challenge", "AWS WAF challenge"),
    ("x-amzn-waf-action", "captcha", "AWS WAF captcha"),
)
# Tokens of the vendors' challenge scripts: they never occur in an article's text, so they count
# even in a 200 page (some challenges answer 200).
_SCRIPTS = (
    ("_cf_chl_opt", "Cloudflare challenge"),
    ("cf-browser-verification", "Cloudflare challenge"),
    ("/cdn-cgi/challenge-platform/", "Cloudflare challenge"),
    ("<title>just a moment...</title>", "Cloudflare challenge"),
    ("awswafintegration", "AWS WAF challenge"),
    ("awswafcookiedomainlist", "AWS WAF challenge"),
    ("captcha-delivery.com", "DataDome captcha"),
    ("_incapsula_resource", "Imperva (Incapsula) challenge"),
    ("incapsula incident id", "Imperva (Incapsula) block"),
    ("px-captcha", "PerimeterX captcha"),
    ("sucuri website firewall", "Sucuri firewall block"),
)
_SCRIPTS_BYTES = tuple((token.encode(), what) for token, what in _SCRIPTS)
# Wordings of block pages: only with a refusing status, since a story could quote them.
_BLOCK_PAGES = (
    ("attention required! | cloudflare", "Cloudflare block"),
    ("error 1020", "Cloudflare block (error 1020)"),
    ("checking your browser before accessing", "browser check"),
    ("enable javascript and cookies to continue", "browser check"),
    ("verify you are human", "human-verification page"),
    ("errors.edgesuite.net", "Akamai access denied"),
)


def challenge(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """What kind of bot-protection page this response is ("Cloudflare challenge"), or None.

    `headers` keys are lower-case. A challenge is never answered: the monitor reports the source
    as blocked and keeps asking at its usual pace.
    """
    for name, value, what in _HEADERS:
        if value in headers.get(name, "").lower():
            return what
    head = body[:SCAN_BYTES].lower()
    for marker, found in _SCRIPTS_BYTES:  # script tokens are code, never entity-encoded
        if marker in head:
            return found
    if status in CHALLENGE_STATUSES:
        # Block pages entity-encode their text ("errors&#46;edgesuite&#46;net"); only a refusing
        # status pays for decoding the head (a 200 feed body is read on every poll).
        text = unescape(head.decode("utf-8", "replace")).lower()
        for token, what in _SCRIPTS:
            if token in text:
                return what
        for token, what in _BLOCK_PAGES:
            if token in text:
                return what
        # A 503 behind Cloudflare may be the origin really down; a 403 from its edge is a refusal.
        if status == 403 and "cloudflare" in headers.get("server", "").lower():
            return "Cloudflare refusal"
    return None
