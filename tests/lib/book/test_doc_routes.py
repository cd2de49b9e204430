import pytest

from lib.book.doc_routes import (
    doc_route,
    join_route,
    resolve_pathname,
    strip_number_prefix,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("01-intro", "intro"),
        ("1.intro", "intro"),
        ("003 - Setup guide", "Setup guide"),
        ("02_guide", "guide"),
        ("intro", "intro"),
        ("a1-intro", "a1-intro"),
        ("2021-01-31-release", "2021-01-31-release"),  # a date, not a prefix
        ("1.2-notes", "1.2-notes"),  # a version, not a prefix
        ("01-", "01-"),
        ("01--", "01--"),
    ],
)
def test_strips_number_prefixes_like_docusaurus(name, expected):
    assert strip_number_prefix(name) == expected


@pytest.mark.parametrize(
    ("source", "front_matter", "route", "doc_id"),
    [
        ("intro.md", {}, "/docs/intro", "intro"),
        ("guide/install.md", {}, "/docs/guide/install", "install"),
        ("01-guide/02-install.mdx", {}, "/docs/guide/install", "install"),
        ("guide/index.md", {}, "/docs/guide/", "index"),
        ("guide/inDEx.mdx", {}, "/docs/guide/", "inDEx"),
        ("guide/README.md", {}, "/docs/guide/", "README"),
        ("guide/guide.md", {}, "/docs/guide/", "guide"),
        ("02-guide/02-guide.md", {}, "/docs/guide/", "guide"),
        ("index.md", {}, "/docs/", "index"),
        ("guide/index.md", {"slug": "/home"}, "/docs/home", "index"),
        ("guide/install.md", {"id": "setup"}, "/docs/guide/setup", "setup"),
        ("guide/install.md", {"slug": "/abc/def"}, "/docs/abc/def", "install"),
        ("guide/install.md", {"slug": "abc/def"}, "/docs/guide/abc/def", "install"),
        ("guide/install.md", {"slug": "./abc/../def"}, "/docs/guide/def", "install"),
        ("dir/sub/install.md", {"slug": "../abc"}, "/docs/dir/abc", "install"),
        ("dir/sub/install.md", {"slug": "../../../../abc/../def"}, "/docs/def", "install"),
        ("guide/install.md", {"slug": "/"}, "/docs/", "install"),
        ("guide/install.md", {"id": 42}, "/docs/guide/42", "42"),
    ],
)
def test_routes_follow_the_docs_plugin(source, front_matter, route, doc_id):
    assert doc_route(source, front_matter) == (route, doc_id)


def test_route_base_path_can_be_the_site_root():
    assert doc_route("guide/install.md", {}, route_base_path="/") == ("/guide/install", "install")
    assert doc_route("index.md", {}, route_base_path="/") == ("/", "index")


def test_an_id_with_a_slash_is_refused():
    with pytest.raises(ValueError, match="id 'a/b' can't contain a slash"):
        doc_route("guide/install.md", {"id": "a/b"})


@pytest.mark.parametrize(
    ("to", "base", "expected"),
    [
        ("doc", "/", "/doc"),
        ("abc/def", "/dir/", "/dir/abc/def"),
        ("/abs", "/dir/", "/abs"),
        ("", "/dir/", "/dir/"),
        ("sub/", "/dir/", "/dir/sub/"),
        ("..", "/a/b/", "/a/"),
    ],
)
def test_resolves_pathnames_like_resolve_pathname(to, base, expected):
    assert resolve_pathname(to, base) == expected


@pytest.mark.parametrize(
    ("base", "slug", "expected"),
    [("/docs", "/intro", "/docs/intro"), ("docs/", "/a/", "/docs/a/"), ("/", "/", "/"), ("/docs", "/", "/docs/")],
)
def test_joins_routes_like_normalize_url(base, slug, expected):
    assert join_route(base, slug) == expected
