"""Response bodies under a size cap: Content-Encoding undone incrementally, bombs stopped early.

Reads: an aiohttp response's body stream. Writes: nothing; returns the decoded bytes.
"""

from __future__ import annotations

import zlib
from typing import Literal

import aiohttp

from monitor.collect.errors import FetchError

Coding = Literal["identity", "gzip", "deflate"]
_CHUNK_SIZE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class _TooLarge(Exception):
    pass


class _Corrupt(Exception):
    pass


class BoundedDecoder:
    """Undoes Content-Encoding incrementally, never holding more than `cap` + 1 output bytes.

    zlib's max_length plus draining unconsumed_tail is what bounds memory: a 1 GiB gzip bomb
    stops after about cap bytes of output and a few KiB of input.
    """

    def __init__(self, encoding: Coding, cap: int) -> None:
        self._encoding = encoding
        self._cap = cap
        self._parts: list[bytes] = []
        self._size = 0
        self._stream: zlib._Decompress | None = None
        self._pending = b""  # held until there are enough bytes to identify the next stream
        self._streams = 0
        self._ignore_rest = False

    def _emit(self, data: bytes) -> None:
        if data:
            self._size += len(data)
            if self._size > self._cap:
                raise _TooLarge
            self._parts.append(data)

    def _open_stream(self, head: bytes) -> zlib._Decompress | None:
        if self._streams and not (self._encoding == "gzip" and head.startswith(_GZIP_MAGIC)):
            # Some servers pad after the compressed stream; what follows is not body.
            self._ignore_rest = True
            return None
        self._streams += 1
        if self._encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is meant to be zlib-wrapped (RFC 9110), but many servers send raw deflate.
        cmf, flg = head[0], head[1]
        wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> None:
        if self._encoding == "identity":
            self._emit(chunk)
            return
        data = self._pending + chunk
        self._pending = b""
        try:
            while data and not self._ignore_rest:
                if self._stream is None:
                    if len(data) < 2:
                        self._pending = data
                        return
                    self._stream = self._open_stream(data[:2])
                    if self._stream is None:
                        return
                stream = self._stream
                self._emit(stream.decompress(data, self._cap - self._size + 1))
                while stream.unconsumed_tail:
                    self._emit(
                        stream.decompress(stream.unconsumed_tail, self._cap - self._size + 1)
                    )
                if stream.eof:
                    data = stream.unused_data
                    self._stream = None
                else:
                    data = b""
        except zlib.error as exc:
            raise _Corrupt(f"bad {self._encoding} data: {exc}") from exc

    def finish(self) -> bytes:
        if not self._ignore_rest and (self._stream is not None or self._pending):
            raise _Corrupt(f"{self._encoding} body is truncated")
        return b"".join(self._parts)


def content_coding(header: str | None) -> Coding | None:
    value = (header or "").strip().lower()
    if value in ("", "identity"):
        return "identity"
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value == "deflate":
        return "deflate"
    return None


async def read_body(resp: aiohttp.ClientResponse, cap: int, url: str) -> bytes:
    """The decoded body, at most `cap` bytes on the wire and after decoding; FetchError else."""
    too_large = f"body larger than {cap} bytes"
    coding = content_coding(resp.headers.get("Content-Encoding"))
    if coding is None:
        raise FetchError(
            "protocol",
            f"unsupported Content-Encoding {resp.headers.get('Content-Encoding')!r} from {url}",
            url=url,
        )
    # The wire size is capped as well: a compressed body larger than the cap is no feed.
    length = resp.content_length
    if length is not None and length > cap:
        resp.close()
        raise FetchError("too_large", f"{too_large} (Content-Length {length})", url=url)
    decoder = BoundedDecoder(coding, cap)
    received = 0
    try:
        async for chunk in resp.content.iter_chunked(_CHUNK_SIZE):
            received += len(chunk)
            if received > cap:
                raise _TooLarge
            decoder.feed(chunk)
        body = decoder.finish()
    except _TooLarge:
        # Closing drops the connection instead of draining the rest of a hostile body.
        resp.close()
        raise FetchError("too_large", too_large, url=url) from None
    except _Corrupt as exc:
        resp.close()
        raise FetchError("protocol", f"{exc} from {url}", url=url) from exc
    if not body:
        raise FetchError("empty", f"empty body from {url}", url=url)
    return body
