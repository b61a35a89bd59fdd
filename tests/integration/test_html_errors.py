"""Errors a person meets in the browser are pages, not raw JSON (issue 19 item 7); the API keeps JSON.

- A browser navigation (Accept: text/html, not under /api/) that fails — 400, 403, 404, 409, 500 — gets an HTML page
  in Chinese with the English line, the status, and a way back (the previous page of this site, and home).
- /api/ paths, or a client that does not ask for HTML, keep the JSON problem body.
- htmx requests keep the small alert fragment their page swaps in.
Also: static files are served gzip-compressed, by content-hashed names cached for a year (item 16).
"""

from __future__ import annotations

import gzip

import pytest
from litestar.testing import RequestFactory

from backend.app import _error_response
from backend.errors import AppError, Conflict
from backend.static_assets import STATIC_DIR, StaticAssets, static_url
from tests.integration.conftest import login

pytestmark = pytest.mark.integration

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def is_error_page(r, status: int) -> None:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert f'data-status="{status}"' in r.text and f"错误 {status}" in r.text
    assert 'id="error-home"' in r.text and 'id="error-back"' in r.text and "返回上一页" in r.text


async def test_a_missing_page_is_a_chinese_html_page_with_a_way_back(client, world):
    h = await login(client, world.users["staff_a"])
    r = await client.get("/no/such/page", headers={**h, **HTML, "referer": f"http://testserver.local/projects/{world.project_a}"})
    is_error_page(r, 404)
    assert "页面不存在" in r.text and 'lang="en"' in r.text
    assert f'href="/projects/{world.project_a}"' in r.text  # back: the page the browser came from (this site's)
    foreign = await client.get("/no/such/page", headers={**h, **HTML, "referer": "https://evil.example/x"})
    assert "evil.example" not in foreign.text and 'onclick="history.back()"' in foreign.text


async def test_a_foreman_opening_a_page_of_another_role_gets_a_chinese_403_page(client, world):
    h = await login(client, world.users["foreman_a"])
    r = await client.get("/crew/reviews", headers={**h, **HTML})
    is_error_page(r, 403)
    assert "无权访问" in r.text and "仅主管部门人员可审核" in r.text and "Only supervisors may review" in r.text
    # another project's page answers like a missing one (its existence is not revealed), as a page
    other = await client.get(f"/projects/{world.project_c}/crew", headers={**h, **HTML})
    assert other.status_code in (403, 404) and other.headers["content-type"].startswith("text/html")
    assert "错误" in other.text and "甲区" not in other.text


async def test_bad_input_in_a_page_address_is_a_400_page(client, world):
    h = await login(client, world.users["staff_a"])
    r = await client.get(f"/projects/{world.project_a}/crew?page=abc", headers={**h, **HTML})
    is_error_page(r, 400)
    assert "请求内容有误" in r.text and "page" in r.text


async def test_the_api_keeps_json_even_for_a_browser(client, world):
    h = await login(client, world.users["foreman_a"])
    r = await client.get("/api/projects/987654321", headers={**h, **HTML})
    assert r.status_code == 404 and r.json()["code"] == "not_found" and r.json()["message_en"]
    plain = await client.get("/crew/reviews", headers=h)  # no Accept: text/html → JSON
    assert plain.status_code == 403 and plain.json()["code"] == "role_forbidden"


async def test_htmx_requests_keep_the_alert_fragment(client, world):
    h = await login(client, world.users["foreman_a"])
    r = await client.get("/crew/reviews", headers={**h, **HTML, "hx-request": "true"})
    assert r.status_code == 403 and r.text.startswith('<div class="error" role="alert">') and "<html" not in r.text


@pytest.mark.parametrize(("err", "status", "title"), [
    (Conflict("该登记已被他人处理，请刷新页面", "The registration changed meanwhile; reload"), 409, "操作冲突"),
    (AppError("服务器内部错误，请稍后重试", "Internal server error", code="internal_error"), 500, "服务器出错了"),
])
async def test_conflicts_and_server_errors_are_pages_too(client, err, status, title):
    # rendered through the app (its template engine), as the handlers do for every error
    if status == 500:
        err.status_code = 500  # type: ignore[misc]
    request = RequestFactory(app=client._transport.app).get("/projects/1/crew", headers=HTML)  # type: ignore[attr-defined]
    response = _error_response(request, err)
    assert response.status_code == status
    assert response.template_name == "error.html"  # type: ignore[attr-defined]
    assert response.context["title"] == title and response.context["en"] == err.en  # type: ignore[attr-defined]
    assert response.headers["Cache-Control"] == "no-store"
    api = _error_response(RequestFactory().get("/api/projects/1", headers=HTML), err)
    assert api.status_code == status and api.content["code"] == err.code


# ------------------------------------------------------------------------------ static files (item 16)


async def test_pages_reference_static_files_by_hashed_names_cached_for_a_year(client, world):
    h = await login(client, world.users["staff_a"])
    page = await client.get(f"/projects/{world.project_a}/crew", headers=h)
    hashed = static_url("css/app.css")
    assert hashed != "/static/css/app.css" and hashed in page.text and static_url("js/crew.js") in page.text
    r = await client.get(hashed, headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
    assert r.content == (STATIC_DIR / "css/app.css").read_bytes()  # httpx decoded the gzip body
    assert r.headers["content-type"].startswith("text/css")


async def test_plain_static_urls_keep_working_with_revalidation_for_the_service_worker(client):
    r = await client.get("/static/js/clock.js", headers={"accept-encoding": "identity"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache" and "content-encoding" not in r.headers
    assert r.content == (STATIC_DIR / "js/clock.js").read_bytes()
    again = await client.get("/static/js/clock.js", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    stale = await client.get("/static/js/clock.0123456789.js")  # a page rendered before a deploy
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    png = await client.get(static_url("icons/icon-192.png"), headers={"accept-encoding": "gzip"})
    assert png.status_code == 200 and "content-encoding" not in png.headers  # images are not re-compressed


@pytest.mark.parametrize("path", ["/static/../backend/settings.py", "/static/%2e%2e/backend/settings.py",
                                  "/static/css/", "/static/nothing.css", "/static/css/app.css/x"])
async def test_only_files_inside_the_static_folder_are_served(client, path):
    r = await client.get(path)
    assert r.status_code == 404


def test_a_changed_file_gets_a_new_hashed_name(tmp_path):
    (tmp_path / "a.css").write_text("body{}")
    assets = StaticAssets(tmp_path)
    first = assets.url("a.css")
    assert first.startswith("/static/a.") and first.endswith(".css")
    (tmp_path / "a.css").write_text("body{color:red}")
    second = assets.url("a.css")
    assert second != first and assets.resolve(second.removeprefix("/static/"))[1] is True
    assert assets.resolve(first.removeprefix("/static/"))[1] is False  # the old name: served, not immutable
    big = "x{}" * 400
    (tmp_path / "b.js").write_text(big)
    assert gzip.decompress(assets.asset("b.js").gz) == big.encode()
