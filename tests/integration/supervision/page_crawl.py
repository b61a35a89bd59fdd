"""Crawl the HTML pages a user can reach by following links, and read each page's visible text.

Used by the checks that run over every page (tests/integration/test_no_utc_leaks.py: no time in UTC;
tests/integration/supervision/test_codes_shown_as_labels.py: no raw code).  Pure HTTP over the in-loop app
client; no browser."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

# Never followed: logging out ends the session; the API answers JSON or files; static files are not pages.
SKIP_PREFIXES = ("/logout", "/api/", "/static/", "/sw.js", "/manifest")
SKIP_SUFFIXES = (".xlsx", ".csv", ".json", ".kml", ".kmz", ".png", ".jpg", ".webmanifest")
_NUMBER = re.compile(r"\d+")


class _Text(HTMLParser):
    """Visible text (not script/style/template), the values shown in inputs, and the links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style", "template"):
            self._hidden += 1
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag in ("input", "textarea") and a.get("type") != "hidden" and a.get("value"):
            self.parts.append(str(a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()), parser.links


@dataclass
class Page:
    url: str
    status: int
    text: str  # visible text ("" unless an HTML 200)


@dataclass
class Crawl:
    pages: list[Page] = field(default_factory=list)

    @property
    def ok(self) -> list[Page]:
        return [p for p in self.pages if p.status == 200]

    def page(self, prefix: str) -> Page:
        return next(p for p in self.ok if p.url.startswith(prefix))


def _shape(url: str) -> str:
    """A URL's kind: numbers blanked, query keys kept (``/projects/N/crew?presence``)."""
    parts = urlsplit(url)
    keys = sorted({kv.split("=", 1)[0] for kv in parts.query.split("&") if kv})
    return _NUMBER.sub("N", parts.path) + "?" + "&".join(keys)


async def crawl(client: httpx.AsyncClient, headers: dict[str, str], start: list[str], *, per_shape: int = 2,
                limit: int = 150) -> Crawl:
    """Breadth-first over same-site links from ``start`` (GET only), at most ``per_shape`` URLs of one kind and
    ``limit`` pages in all; ``start`` URLs are always fetched."""
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    queue: deque[tuple[str, bool]] = deque((u, True) for u in start)
    out = Crawl()
    while queue and len(out.pages) < limit:
        url, forced = queue.popleft()
        url = urldefrag(url)[0]
        if url in seen or not url.startswith("/") or url.startswith("//"):
            continue
        path = urlsplit(url).path
        if path.startswith(SKIP_PREFIXES) or path.endswith(SKIP_SUFFIXES):
            continue
        shape = _shape(url)
        if not forced and shapes.get(shape, 0) >= per_shape:
            continue
        seen.add(url)
        shapes[shape] = shapes.get(shape, 0) + 1
        r = await client.get(url, headers={**headers, "Accept": "text/html"})
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            out.pages.append(Page(url, r.status_code, ""))
            continue
        text, links = visible_text(r.text)
        out.pages.append(Page(url, 200, text))
        for link in links:  # same-site links only, relative ones ("?month=…") resolved against the page
            target = urlsplit(urljoin("http://site" + url, link))
            if target.scheme == "http" and target.netloc == "site":
                queue.append((target.path + (f"?{target.query}" if target.query else ""), False))
    return out
