"""The built site, checked in a real browser: ``python -m tools.site check`` (``make site-check``).

It serves the site on 127.0.0.1 (a free port) and drives headless Chromium through chromedriver
with selenium, starting at index.html and following every internal link. For every page:

- it loads (HTTP 200, a title, the theme's article);
- the browser's console has no error (a failed script, stylesheet, font or image is one);
- every internal link leads to a file that exists, and its #anchor to an element on that page;
- every image has loaded (natural width > 0) and has an alt attribute; a plot's is not empty;
- nothing is requested from outside the site (scripts, stylesheets, images, frames);
- no navigation cell of the notebooks is left (the site has its own previous/next links).

On every lesson page, against the lesson's notebook: each deep dive (a run of cells tagged
``deep-dive``) is there under its heading, folded (a closed ``details.deep-dive``) and readable
(the words of all its cells are in the page); the recall answers (the cell tagged
``recall-answers``, which every lesson has) are there, folded under "Answers", every word present.

And over the whole site: following "next" from the landing page visits every lesson in order,
and "previous" walks back.

The browser is Debian's (``.ci/install-browser`` installs chromium and chromium-driver); set
``SITE_CHECK_BROWSER`` / ``SITE_CHECK_DRIVER`` to use another Chrome (GitHub's runners have one).
It runs with a fresh profile and without background networking, so nothing but the site is
contacted; as root it needs ``--no-sandbox``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urlparse

from tools.site import DEEP_DIVE_TITLE, SiteError, deep_dive_runs, heading, lessons

RECALL_ANSWERS_TAG = "recall-answers"
# Share of a cell's words the page must hold: links' targets and markup are dropped first, and a
# renderer may still spell a word apart (an HTML entity), so not all of them, but nearly.
WORDS_PRESENT = 0.9

CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Read in the page once it has loaded: what the checks need, in one round trip.
PAGE_FACTS = """
const abs = (u) => new URL(u, document.baseURI).href;
return {
  title: document.title,
  article: !!document.querySelector('article, main'),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  images: [...document.images].map(i => ({
    src: i.currentSrc || i.src, loaded: i.complete && i.naturalWidth > 0,
    alt: i.getAttribute('alt'), plot: !!i.closest('.cell_output, .output')})),
  resources: [...document.querySelectorAll('script[src], link[href][rel~=stylesheet], iframe[src], img[src]')]
    .map(e => abs(e.getAttribute('src') || e.getAttribute('href'))),
  prev: (document.querySelector('a.left-prev') || {}).href || null,
  next: (document.querySelector('a.right-next') || {}).href || null,
  navCell: [...document.querySelectorAll('article a')].some(a => a.textContent.trim() === 'Series index'),
  details: [...document.querySelectorAll('article details')].map(d => {
    const section = d.parentElement && d.parentElement.closest('section');
    const title = section && [...section.children].find(e => /^H[1-6]$/.test(e.tagName));
    return {deepDive: d.classList.contains('deep-dive'), open: d.open, text: d.textContent,
            summary: (d.querySelector('summary') || {}).textContent || '',
            heading: title ? title.textContent : ''};
  }),
};
"""


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a browser that drops a connection it no longer needs is not a finding


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The site on 127.0.0.1 (never another interface), on a free port."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _tool(env: str, names: list[str]) -> str:
    found = os.environ.get(env) or next((p for n in names if (p := shutil.which(n))), None)
    if not found:
        raise SiteError(
            f"no {names[0]} found. Install Debian's chromium and chromium-driver with "
            f"`sudo bash .ci/install-browser`, or point {env} at one."
        )
    return found


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _tool("SITE_CHECK_BROWSER", ["chromium", "chromium-browser", "google-chrome"])
    for arg in CHROME_ARGS + [f"--user-data-dir={profile}", "--window-size=1280,900"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=_tool("SITE_CHECK_DRIVER", ["chromedriver"]))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


class Site:
    """What the server answers, fetched once per file."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._status: dict[str, int] = {}
        self._ids: dict[str, set[str]] = {}

    def internal(self, url: str) -> bool:
        return url.startswith(self.base)

    def status(self, url: str) -> int:
        if url not in self._status:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    self._status[url] = answer.status
                    if answer.headers.get_content_type() == "text/html":
                        parser = _Ids()
                        parser.feed(answer.read().decode("utf-8", "replace"))
                        self._ids[url] = parser.ids
            except urllib.error.HTTPError as exc:
                self._status[url] = exc.code
        return self._status[url]

    def has_anchor(self, url: str, anchor: str) -> bool:
        self.status(url)
        return anchor in self._ids.get(url, set())


def _page_file(url: str) -> str:
    """A page's URL without query or fragment, ``/`` read as index.html."""
    url = urldefrag(url)[0].split("?")[0]
    return url + "index.html" if url.endswith("/") else url


def check_page(driver, site: Site, url: str) -> tuple[list[str], dict]:
    problems = []
    if site.status(url) != 200:
        return [f"answers HTTP {site.status(url)}"], {}
    driver.get(url)
    facts = driver.execute_script(PAGE_FACTS)
    if not facts["title"] or not facts["article"]:
        problems.append("did not render (no title or no article)")
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            problems.append(f"console error: {entry.get('message')}")
    for link in facts["links"]:
        if urlparse(link).scheme not in ("http", "https") or not site.internal(link):
            continue
        target, anchor = urldefrag(link)
        target = _page_file(target)
        if site.status(target) != 200:
            problems.append(f"broken link {link} (HTTP {site.status(target)})")
        elif anchor and target.endswith(".html") and not site.has_anchor(target, anchor):
            problems.append(f"broken anchor {link}")
    for image in facts["images"]:
        if not image["loaded"]:
            problems.append(f"image did not load: {image['src']}")
        if image["alt"] is None or (image["plot"] and not image["alt"].strip()):
            problems.append(f"image without alt text: {image['src']}")
    for resource in facts["resources"]:
        if urlparse(resource).scheme in ("http", "https") and not site.internal(resource):
            problems.append(f"loads from outside the site: {resource}")
    if facts["navCell"]:
        problems.append("a notebook navigation cell is left (tagged nav: the build should drop it)")
    return problems, facts


def check(html: Path) -> int:
    if not (html / "index.html").exists():
        raise SiteError(f"no site in {html}: run `make site` first.")
    server, base = serve(html)
    site = Site(base)
    failures: dict[str, list[str]] = {}
    facts_of: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="site-check-profile-") as profile:
        driver = browser(Path(profile))
        try:
            queue, seen = [base + "index.html", base + "search.html"], set()
            while queue:
                url = queue.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                problems, facts = check_page(driver, site, url)
                facts_of[url] = facts
                name = url[len(base) :]
                print(f"{'ok  ' if not problems else 'FAIL'} {name}")
                if problems:
                    failures[name] = problems
                for link in facts.get("links", []):
                    page = _page_file(link)
                    if site.internal(page) and page.endswith(".html") and page not in seen:
                        queue.append(page)
        finally:
            driver.quit()
            server.shutdown()
    for path in lessons():
        url = base + f"notebooks/{path.stem}.html"
        if url in facts_of:
            found = lesson_problems(json.loads(path.read_text()), facts_of[url])
            if found:
                failures.setdefault(url[len(base) :], []).extend(found)
    order = [base + "index.html"] + [base + f"notebooks/{p.stem}.html" for p in lessons()]
    walk_problems = _walk(order, facts_of)
    if walk_problems:
        failures["previous/next"] = walk_problems
    for name, problems in failures.items():
        print(f"\n{name}:")
        for problem in problems:
            print(f"  - {problem}")
    pages = len(facts_of)
    if failures:
        print(f"\nsite check: {len(failures)} of {pages} pages with problems")
        return 1
    print(f"\nsite check: {pages} pages, every link, anchor and image fine, no console error")
    return 0


def _words(source: str) -> set[str]:
    """The words a reader sees in a cell's source: link targets, HTML tags and markup dropped."""
    text = re.sub(r"\]\([^)]*\)", "]", source)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}


def _missing_words(source: str, page_text: str) -> list[str]:
    """Words of ``source`` the page text lacks, when more than WORDS_PRESENT's allowance."""
    words = _words(source)
    shown = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", page_text)}
    missing = sorted(words - shown)
    return missing if words and len(missing) > (1 - WORDS_PRESENT) * len(words) else []


def _plain(text: str) -> str:
    """Text to compare a notebook's heading with the page's: letters and digits, lowercase.

    The page drops Markdown's backticks and Sphinx curls the quotes, so only words count."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def lesson_problems(nb: dict, facts: dict) -> list[str]:
    """A lesson page against its notebook: deep dives folded and readable, recall answers folded."""
    cells = nb["cells"]  # numbered as in the notebook
    details = facts.get("details", [])
    problems = []
    deep = [i for first, end in deep_dive_runs(cells) for i in range(first, end)]
    folded = [d for d in details if d["deepDive"]]
    for i in deep:
        title = heading(cells[i])
        if not title or not title[1].startswith(DEEP_DIVE_TITLE):
            continue
        mine = [d for d in folded if _plain(title[1]) in _plain(d["heading"])]
        if not mine:
            problems.append(f"deep dive {title[1]!r} is not folded in a <details class=deep-dive> under its heading")
        elif any(d["open"] for d in mine):
            problems.append(f"deep dive {title[1]!r} is open on arrival; it should start folded")
    text = " ".join(d["heading"] + " " + d["text"] for d in folded)
    for i in deep:
        missing = _missing_words("".join(cells[i]["source"]), text)
        if missing:
            problems.append(f"deep-dive cell {i}: its text is not in a folded deep dive on the page: {missing[:8]}")
    answers_cells = [c for c in cells if RECALL_ANSWERS_TAG in c.get("metadata", {}).get("tags", [])]
    answers = [d for d in details if not d["deepDive"] and d["summary"].strip().startswith("Answers")]
    if not answers_cells:
        problems.append(f"no recall answers: the lesson needs a markdown cell tagged {RECALL_ANSWERS_TAG!r}")
    elif not answers:
        problems.append("the recall answers are not folded in <details><summary>Answers</summary>")
    else:
        if any(d["open"] for d in answers):
            problems.append("the recall answers are open on arrival; they should start folded")
        text = " ".join(d["text"] for d in answers)
        for cell in answers_cells:
            missing = _missing_words("".join(cell["source"]), text)
            if missing:
                problems.append(f"recall answers: text missing from the folded answers: {missing[:8]}")
    return problems


def _walk(order: list[str], facts_of: dict[str, dict]) -> list[str]:
    """'next' from the landing page visits the lessons in order; 'previous' walks back."""
    problems = []
    for here, there in zip(order, order[1:]):
        if here not in facts_of or there not in facts_of:
            problems.append(f"page not reached from the landing page: {there if here in facts_of else here}")
            continue
        if _page_file(facts_of[here].get("next") or "") != there:
            problems.append(f"'next' on {here} leads to {facts_of[here].get('next')}, not {there}")
        if _page_file(facts_of[there].get("prev") or "") != here:
            problems.append(f"'previous' on {there} leads to {facts_of[there].get('prev')}, not {here}")
    return problems
