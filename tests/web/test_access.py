"""Who may read the view: this machine by default (the Host must name it), anyone with the token
when web.allow_remote is set, and `monitor web` refusing settings that would expose it."""

from __future__ import annotations

import base64
import hashlib
import http.client
from pathlib import Path

import yaml

from tests.processes import monitor
from tests.web.http import get
from tests.web.site import Corpus, WebProcess


def with_web(
    corpus: Corpus, tmp_path: Path, web: dict[str, object], credentials: Path | None = None
) -> Path:
    data = yaml.safe_load(corpus.config.read_text(encoding="utf-8"))
    data["web"] = web
    if credentials is not None:
        data.setdefault("alerts", {})["credentials_file"] = str(credentials)
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def status_with_host(port: int, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/search", headers={"Host": host})
    status = conn.getresponse().status
    conn.close()
    return status


def test_loopback_view_answers_only_requests_naming_this_machine(site: WebProcess) -> None:
    assert status_with_host(site.port, f"127.0.0.1:{site.port}") == 200
    assert status_with_host(site.port, f"localhost:{site.port}") == 200
    assert status_with_host(site.port, f"[::1]:{site.port}") == 200
    assert status_with_host(site.port, "localhost") == 200
    # A page on another site that rebinds its name to 127.0.0.1 cannot read the view.
    assert status_with_host(site.port, f"attacker.example:{site.port}") == 403


def test_a_token_is_needed_on_every_path_when_remote_access_is_allowed(
    corpus: Corpus, tmp_path: Path
) -> None:
    config = with_web(corpus, tmp_path, {"host": "127.0.0.1", "allow_remote": True,
                                          "token": "${WEB_TOKEN}"})  # fmt: skip
    web = WebProcess(Corpus(config, corpus.db, corpus.now, corpus.ids), WEB_TOKEN="s3cret-t0ken")
    try:
        for path in ("/search", "/api/articles", "/feeds/sectors/semiconductors.atom",
                     "/static/style.css"):  # fmt: skip
            refused = get(web.base + path)
            assert refused.status == 401, path
            assert refused.headers["WWW-Authenticate"].startswith("Basic")
            assert get(web.base + path, {"Authorization": "Bearer wrong"}).status == 401
            assert get(web.base + path, {"Authorization": "Bearer s3cret-t0ken"}).status == 200
        basic = base64.b64encode(b"analyst:s3cret-t0ken").decode()
        answer = get(web.base + "/search?q=chip", {"Authorization": f"Basic {basic}"})
        assert answer.status == 200 and "s3cret-t0ken" not in answer.text
    finally:
        assert web.close() == 0
    assert "s3cret-t0ken" not in web.log.text


def test_settings_that_would_expose_the_view_are_refused_naming_file_line_and_key(
    corpus: Corpus, tmp_path: Path
) -> None:
    remote = with_web(corpus, tmp_path, {"host": "0.0.0.0"})
    out = monitor("web", config=remote, db=corpus.db)
    assert out.returncode == 2
    assert f"{remote}:" in out.stderr and "web.host" in out.stderr and "allow_remote" in out.stderr

    no_token = with_web(corpus, tmp_path, {"host": "0.0.0.0", "allow_remote": True})
    out = monitor("web", config=no_token, db=corpus.db)
    assert out.returncode == 2 and "web.token" in out.stderr

    literal = with_web(corpus, tmp_path, {"allow_remote": True, "token": "hunter2"})
    out = monitor("web", config=literal, db=corpus.db)
    assert out.returncode == 2 and "web.token" in out.stderr

    unset = with_web(corpus, tmp_path, {"allow_remote": True, "token": "${NOT_SET_ANYWHERE}"})
    out = monitor("web", config=unset, db=corpus.db)
    assert out.returncode == 2 and "web.token" in out.stderr and "NOT_SET_ANYWHERE" in out.stderr

    out = monitor("web", "--host", "0.0.0.0", config=corpus.config, db=corpus.db)
    assert out.returncode == 2 and "web.allow_remote" in out.stderr


def test_the_view_never_writes_and_never_creates_a_database(
    site: WebProcess, corpus: Corpus, tmp_path: Path
) -> None:
    def stored() -> str:
        wal = corpus.db.with_name(corpus.db.name + "-wal")
        return hashlib.sha256(
            corpus.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        ).hexdigest()

    before = stored()
    for path in ("/search?q=semicon*", "/trends", "/sources", "/api/articles", "/rules/try?q=x"):
        assert get(site.base + path).status == 200
    assert stored() == before
    mistyped = tmp_path / "typo" / "monitr.db"
    out = monitor("web", config=corpus.config, db=mistyped)
    assert out.returncode == 2 and "no database at" in out.stderr
    assert not mistyped.parent.exists()


def test_check_config_warns_of_a_web_token_without_a_value(corpus: Corpus, tmp_path: Path) -> None:
    secrets = tmp_path / "credentials"
    secrets.write_text("SMTP_PASS=synthetic\n", encoding="utf-8")  # the subscriber's, not the web's
    web = {"allow_remote": True, "token": "${NOT_SET_ANYWHERE}"}
    out = monitor("check-config", config=with_web(corpus, tmp_path, web, secrets), db=corpus.db)
    assert out.returncode == 0, out.stderr  # the daemon does not need it
    assert "web.token" in out.stderr + out.stdout
    assert "${NOT_SET_ANYWHERE} is not set" in out.stderr + out.stdout
    assert "web: `monitor web` on http://127.0.0.1:8765/ (token required)" in out.stdout
