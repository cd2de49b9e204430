import threading
from pathlib import Path

import pytest
import requests
import responses

from lib.book.crawl import USER_AGENT, crawl_site
from lib.book.pages import Page, PageError, Section

SITE = "https://book.example"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "site"
HTML = "text/html; charset=utf-8"


def doc_html(title: str, text: str = "", links: tuple[str, ...] = ()) -> str:
    """A page shaped like Docusaurus output: navbar and sidebar links around the article."""
    nav = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return (
        f"<html><head><title>{title} | Robot Book</title></head><body>"
        f'<nav class="navbar">{nav}</nav><main><article>'
        f'<div class="theme-doc-markdown markdown"><header><h1>{title}</h1></header><p>{text}</p>'
        f'<h2 class="anchor" id="details">Details<a class="hash-link" href="#details">#</a></h2><p>More.</p></div>'
        f'<footer class="theme-doc-footer"><a class="theme-edit-this-page" href="https://github.com/x">Edit this page</a>'
        f"</footer></article></main></body></html>"
    )


def sitemap(*urls: str) -> str:
    entries = "".join(f"<url><loc>{url}</loc><changefreq>weekly</changefreq></url>" for url in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


@pytest.fixture
def site():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def add_page(site, path: str, html: str, status: int = 200) -> None:
    site.add(responses.GET, SITE + path, body=html, status=status, content_type=HTML)


def no_robots(site) -> None:
    site.add(responses.GET, SITE + "/robots.txt", status=404)


def fetched(site) -> list[str]:
    return [call.request.url for call in site.calls]


def crawl(url: str, **options) -> list[Page | PageError]:
    return list(crawl_site(url, backoff=0, **options))


def test_reads_the_pages_of_the_sitemap_in_its_order(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(
        SITE + "/docs/basics/first-steps", SITE + "/docs/intro", "https://elsewhere.example/docs/intro",
    ), content_type="application/xml")
    add_page(site, "/docs/basics/first-steps", (FIXTURES / "first-steps.html").read_text(encoding="utf-8"))
    add_page(site, "/docs/intro", doc_html("Welcome", "Robots are fun."))

    results = crawl(SITE)

    assert [(page.title, page.route) for page in results] == [
        ("First steps: wiring", "/docs/basics/first-steps"),
        ("Welcome", "/docs/intro"),
    ]
    assert [(section.heading, section.anchor) for section in results[0].sections] == [
        ("First steps: wiring", ""),
        ("Choose a package manager", "choose-a-package-manager"),
        ("Safety", "safety"),
        ("Fuses F1 and F2", "fuses"),
    ]
    assert results[1].sections == [Section(1, "Welcome", "", "Robots are fun."), Section(2, "Details", "details", "More.")]
    assert results[1].source == SITE + "/docs/intro"
    assert "https://elsewhere.example/docs/intro" not in fetched(site)


def test_a_missing_page_is_reported_and_the_crawl_goes_on(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/a", SITE + "/docs/gone", SITE + "/docs/b"))
    add_page(site, "/docs/a", doc_html("A"))
    add_page(site, "/docs/gone", "Not found", status=404)
    add_page(site, "/docs/b", doc_html("B"))

    results = crawl(SITE)

    assert [type(result).__name__ for result in results] == ["Page", "PageError", "Page"]
    assert str(results[1]) == "https://book.example/docs/gone: HTTP 404"
    assert fetched(site).count(SITE + "/docs/gone") == 1  # a 404 is not retried


def test_a_timeout_is_retried_then_reported(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/slow", SITE + "/docs/b"))
    site.add(responses.GET, SITE + "/docs/slow", body=requests.exceptions.ConnectTimeout("no answer"))
    add_page(site, "/docs/b", doc_html("B"))

    results = crawl(SITE, retries=2)

    assert isinstance(results[0], PageError)
    assert str(results[0]) == "https://book.example/docs/slow: timed out after 10 s, 3 attempts"
    assert results[0].source == SITE + "/docs/slow"
    assert fetched(site).count(SITE + "/docs/slow") == 3
    assert results[1].title == "B"


def test_a_timeout_then_an_answer_gives_the_page(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/flaky"))
    site.add(responses.GET, SITE + "/docs/flaky", body=requests.exceptions.ReadTimeout("slow"))
    site.add(responses.GET, SITE + "/docs/flaky", status=503)
    add_page(site, "/docs/flaky", doc_html("Flaky"))

    results = crawl(SITE, retries=2)

    assert [page.title for page in results] == ["Flaky"]
    assert fetched(site).count(SITE + "/docs/flaky") == 3


def test_robots_txt_disallow_is_respected(site):
    site.add(responses.GET, SITE + "/robots.txt", body="User-agent: *\nDisallow: /docs/private/\n")
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/private/plans", SITE + "/docs/public"))
    add_page(site, "/docs/private/plans", doc_html("Plans"))
    add_page(site, "/docs/public", doc_html("Public"))

    results = crawl(SITE)

    assert [page.route for page in results] == ["/docs/public"]
    assert SITE + "/docs/private/plans" not in fetched(site)


def test_robots_txt_rules_for_this_crawler_by_name_are_respected(site):
    site.add(responses.GET, SITE + "/robots.txt", body="User-agent: rag-chatbot-api-crawler\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/a"))

    assert crawl(SITE) == []
    assert fetched(site) == [SITE + "/robots.txt", SITE + "/sitemap.xml"]


def test_a_robots_txt_that_cannot_be_read_stops_the_crawl(site):
    site.add(responses.GET, SITE + "/robots.txt", status=500)

    results = crawl(SITE, retries=1)

    assert [str(result) for result in results] == [
        "https://book.example/robots.txt: HTTP 500, 2 attempts; not crawling a site whose robots.txt can't be read"
    ]
    assert fetched(site) == [SITE + "/robots.txt", SITE + "/robots.txt"]


def test_from_a_page_follows_same_site_links_under_its_folder(site):
    no_robots(site)
    add_page(site, "/docs/intro", doc_html("Intro", links=(
        "/docs/basics/first-steps", "/docs/intro#details", "/blog/news", "https://elsewhere.example/docs/x",
        "/img/robot.png", "/docs/search?q=robots", "mailto:team@book.example",
    )))
    add_page(site, "/docs/basics/first-steps", (FIXTURES / "first-steps.html").read_text(encoding="utf-8"))
    add_page(site, "/docs/basics/", doc_html("Basics", links=("/docs/intro",)))
    add_page(site, "/docs/basics/identity", doc_html("Naming parts"))
    add_page(site, "/docs/search", doc_html("Search"))

    results = crawl(SITE + "/docs/intro")

    assert [page.route for page in results] == [
        "/docs/intro", "/docs/basics/first-steps", "/docs/search", "/docs/basics/", "/docs/basics/identity",
    ]
    assert not any(url.startswith((SITE + "/blog", SITE + "/img", "https://elsewhere")) for url in fetched(site))
    assert fetched(site).count(SITE + "/docs/intro") == 1


def test_a_site_root_without_a_sitemap_is_crawled_from_its_home_page(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", status=404)
    add_page(site, "/", doc_html("Home", links=("/docs/intro", "/blog/news")))
    add_page(site, "/docs/intro", doc_html("Intro"))
    add_page(site, "/blog/news", doc_html("News"))

    assert [page.route for page in crawl(SITE + "/")] == ["/", "/docs/intro", "/blog/news"]


def test_a_url_ending_in_xml_is_read_as_a_sitemap_index(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/docs/sitemap.xml", body=(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{SITE}/docs/part-1.xml</loc></sitemap>"
        "<sitemap><loc>https://elsewhere.example/sitemap.xml</loc></sitemap></sitemapindex>"
    ))
    site.add(responses.GET, SITE + "/docs/part-1.xml", body=sitemap(SITE + "/docs/a"))
    add_page(site, "/docs/a", doc_html("A"))

    assert [page.title for page in crawl(SITE + "/docs/sitemap.xml")] == ["A"]
    assert "https://elsewhere.example/sitemap.xml" not in fetched(site)


def test_a_broken_sitemap_is_reported(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/docs/sitemap.xml", body="<urlset><url>")

    [error] = crawl(SITE + "/docs/sitemap.xml")

    assert str(error).startswith("https://book.example/docs/sitemap.xml: is not a valid sitemap")


def test_a_page_that_is_not_html_is_reported(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/data"))
    site.add(responses.GET, SITE + "/docs/data", body="{}", content_type="application/json")

    assert [str(error) for error in crawl(SITE)] == ["https://book.example/docs/data: is not an HTML page (application/json)"]


def test_every_request_names_the_project_and_has_a_timeout(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/a"))
    add_page(site, "/docs/a", doc_html("A"))

    crawl(SITE, timeout=3)

    assert {call.request.headers["User-Agent"] for call in site.calls} == {USER_AGENT}
    assert "rag-chatbot-api" in USER_AGENT
    assert {call.request.req_kwargs["timeout"] for call in site.calls} == {3}


def test_pages_are_fetched_up_to_max_workers_at_a_time(site):
    no_robots(site)
    paths = [f"/docs/page-{number}" for number in range(6)]
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(*(SITE + path for path in paths)))
    lock = threading.Lock()
    together = threading.Barrier(3, timeout=5)  # guards against a hang; never reached when 3 run at once
    active, most = 0, 0

    def answer(request):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        together.wait()
        with lock:
            active -= 1
        return 200, {"Content-Type": HTML}, doc_html(request.url.rsplit("/", 1)[-1])

    for path in paths:
        site.add_callback(responses.GET, SITE + path, callback=answer)

    results = crawl(SITE, max_workers=3)

    assert [page.title for page in results] == [f"page-{number}" for number in range(6)]
    assert most == 3


def test_rejects_a_url_that_is_not_http():
    with pytest.raises(ValueError, match="http"):
        list(crawl_site("ftp://book.example/"))


def page_html(title: str, html_class: str = "plugin-docs plugin-id-default docs-doc-page", body: str = "") -> str:
    return (f'<html class="{html_class}"><head><title>{title} | Site</title></head><body><main>'
            f'<div class="theme-doc-markdown markdown"><h1>{title}</h1><p>Text.</p>{body}</div></main></body></html>')


def test_a_sitemap_listing_another_host_is_read_on_the_host_crawled_and_the_log_says_so_once(site, caplog):
    no_robots(site)
    production = "https://production.example"
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(production + "/base/", production + "/base/docs/intro"))
    add_page(site, "/base/", page_html("Home", "plugin-pages plugin-id-default"))
    add_page(site, "/base/docs/intro", page_html("Intro"))

    with caplog.at_level("WARNING", logger="lib.book.crawl"):
        results = crawl(SITE)

    assert [(page.title, page.url, page.book) for page in results] == [
        ("Home", SITE + "/base/", None),  # the site's root page: kept, and no docs instance's
        ("Intro", SITE + "/base/docs/intro", "default"),
    ]
    moved = [record.getMessage() for record in caplog.records if "sitemap lists" in record.getMessage()]
    assert moved == [f"the sitemap lists its pages on {production}; fetching them from {SITE} instead"]


def test_tag_category_index_search_and_404_pages_are_left_out_and_counted(site, caplog):
    no_robots(site)
    pages = {
        "/docs/tags": page_html("Tags", "plugin-docs plugin-id-default docs-tags-list-page"),
        "/docs/tags/soil": page_html("One doc tagged", "plugin-docs plugin-id-default docs-tags-doc-list-page"),
        "/docs/category/planting": page_html("Planting", body='<div class="generatedIndexPage_pcaZ"><h2>Soil</h2></div>'),
        "/search": page_html("Search", "search-page-wrapper plugin-id-default"),
        "/404.html": page_html("Page Not Found", "plugin-native plugin-id-default"),
        "/docs/soil": page_html("Soil"),
    }
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(*(SITE + path for path in pages)))
    for path, html in pages.items():
        add_page(site, path, html)

    with caplog.at_level("WARNING", logger="lib.book.crawl"):
        results = crawl(SITE)

    assert [page.route for page in results] == ["/docs/soil"]
    assert "left out what is no page of the book: 1 404 page, 1 generated category index, 1 search page, 2 tag pages" in caplog.text


def test_from_a_page_the_folders_own_page_is_kept(site):
    no_robots(site)
    add_page(site, "/handbook/intro", doc_html("Intro", links=("/handbook", "/handbook/beds", "/elsewhere")))
    add_page(site, "/handbook", doc_html("Welcome"))
    add_page(site, "/handbook/beds", doc_html("Beds"))

    assert [page.route for page in crawl(SITE + "/handbook/intro")] == ["/handbook/intro", "/handbook", "/handbook/beds"]


def test_the_site_address_given_replaces_the_crawled_hosts_in_the_pages_urls(site):
    no_robots(site)
    site.add(responses.GET, SITE + "/sitemap.xml", body=sitemap(SITE + "/docs/a"))
    add_page(site, "/docs/a", doc_html("A"))
    [page] = crawl(SITE, site_url="https://book.example.org")
    assert page.url == "https://book.example.org/docs/a"
