"""lib/book/links.py: a route as the built site serves it, for each trailingSlash, percent-encoded."""

from __future__ import annotations

import pytest

from lib.book.links import (
    FALSE,
    TRUE,
    UNSET,
    Links,
    base_url,
    route_base_path,
    section_url,
    site_url,
    trailing_slash,
)


@pytest.mark.parametrize(
    ("trailing", "route", "served"),
    [
        (FALSE, "/handbook/", "/base/handbook"),  # an instance's root doc (slug: /)
        (FALSE, "/handbook/beds/", "/base/handbook/beds"),  # a folder's index.md
        (FALSE, "/handbook/signs", "/base/handbook/signs"),
        (FALSE, "/", "/base/"),  # the site root keeps its slash
        (TRUE, "/handbook/signs", "/base/handbook/signs/"),
        (TRUE, "/handbook/beds/", "/base/handbook/beds/"),
        (UNSET, "/handbook/signs", "/base/handbook/signs/"),  # x/index.html, served at x/
        (UNSET, "/", "/base/"),
        (None, "/handbook/signs", "/base/handbook/signs"),  # not known: as Docusaurus names the route
        (None, "/handbook/beds/", "/base/handbook/beds/"),
        (TRUE, "/legacy/page.html", "/base/legacy/page.html"),  # written as named, whatever the setting
    ],
)
def test_a_route_is_served_where_the_build_writes_it(trailing, route, served):
    assert Links("https://example.org", "/base/", trailing).page(route) == "https://example.org" + served


def test_without_a_site_address_links_are_paths_and_names_are_percent_encoded():
    links = Links(None, "/", FALSE)
    assert links.page("/guide/tools/Wheel Barrows") == "/guide/tools/Wheel%20Barrows"
    assert links.page("/guide/日本") == "/guide/%E6%97%A5%E6%9C%AC"
    assert section_url("/guide/x", "café--crème--whats-new") == "/guide/x#caf%C3%A9--cr%C3%A8me--whats-new"
    assert section_url("/guide/x", "") == "/guide/x"


@pytest.mark.parametrize(
    ("parse", "value", "expected"),
    [
        (site_url, "https://example.org/", "https://example.org"),
        (site_url, " http://127.0.0.1:3000 ", "http://127.0.0.1:3000"),
        (base_url, "base", "/base/"),
        (base_url, "", "/"),
        (route_base_path, "handbook/", "/handbook"),
        (route_base_path, "/", "/"),
        (trailing_slash, "False", FALSE),
        (trailing_slash, "undefined", UNSET),
    ],
)
def test_values_are_normalised_as_docusaurus_normalises_them(parse, value, expected):
    assert parse(value) == expected


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (site_url, "example.org", "must be an http(s) address"),
        (site_url, "https://example.org/base/", "without a path, such as https://example.org (the path '/base/' is the base URL"),
        (site_url, "https://example.org:99999", "must be an http(s) address"),
        (base_url, "https://example.org/base/", "must be a path"),
        (route_base_path, "/docs?x", "must be a path"),
        (trailing_slash, "maybe", "must be true, false or unset"),
    ],
)
def test_bad_values_say_what_they_must_be(parse, value, message):
    with pytest.raises(ValueError) as refused:
        parse(value)
    assert message in str(refused.value)
