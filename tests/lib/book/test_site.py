"""lib/book/site.py: a Docusaurus site's books from its config, values given by hand, and clear stops."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from lib.book.links import FALSE, TRUE, UNSET, Links
from lib.book.site import Book, Overrides, Site, SiteError, books_at
from tests.sitebuild import CONFIGS, FIXTURE_SITE

HANDBOOK, GUIDE = FIXTURE_SITE / "handbook", FIXTURE_SITE / "guide-docs"


def site(tmp_path: Path, config: str, *folders: str, name: str = "docusaurus.config.js") -> Path:
    """A site root holding this config and an empty doc in each folder."""
    (tmp_path / name).write_text(textwrap.dedent(config))
    for folder in folders or ("docs",):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "intro.md").write_text("# Intro\n\nText.\n")
    return tmp_path


def only(books: list[Book]) -> Book:
    [book] = books
    return book


@pytest.mark.parametrize(("name", "trailing"), [("trailing-false", FALSE), ("trailing-true", TRUE), ("trailing-unset", UNSET)])
def test_the_fixtures_configs_give_two_books_served_under_base(name, trailing):
    books = Site(FIXTURE_SITE / CONFIGS[name]).books()
    links = Links("https://example.org", "/base/", trailing)
    assert [(book.id, book.folder, book.route_base_path, book.links) for book in books] == [
        ("default", HANDBOOK, "/handbook", links),
        ("guide", GUIDE, "/guide", links),
    ]
    assert books[0].exclude[-2:] == ("**/*.wip.md", "**/archive/**")  # given: it replaces the defaults
    assert books[1].exclude[0] == "**/_*.{js,jsx,ts,tsx,md,mdx}" and books[1].include == ("**/*.{md,mdx}",)
    assert {book.names_from for book in books} == {FIXTURE_SITE}


def test_a_docs_folder_inside_the_site_is_its_own_book_only():
    assert only(books_at(GUIDE)).id == "guide"
    assert only(books_at(HANDBOOK)).route_base_path == "/handbook"


def test_a_folder_inside_a_docs_folder_is_refused_naming_the_folder_to_index():
    with pytest.raises(SiteError, match=r"inside the docs of .*id 'default'.*handbook.*or give --route-base-path"):
        books_at(HANDBOOK / "04-beds")


def test_a_folder_of_the_site_that_no_instance_reads_is_refused(tmp_path):
    root = site(tmp_path, "export default {url: 'https://a.example', baseUrl: '/', presets: ['classic']};", "docs", "notes")
    with pytest.raises(SiteError, match=r"none of its docs instances reads it \(their folders: docs\)"):
        books_at(root / "notes")
    book = only(books_at(root / "notes", Overrides(route_base_path="/notes")))
    assert (book.id, book.route_base_path, book.links) == ("default", "/notes", Links("https://a.example", "/", UNSET))


def test_a_docs_folder_alone_is_served_at_docs_with_nothing_else_known(tmp_path):
    (tmp_path / "a.md").write_text("# A\n")
    book = only(books_at(tmp_path))
    assert (book.id, book.route_base_path, book.links, book.names_from) == ("default", "/docs", Links(None, "/", None), None)
    given = Overrides("https://b.example", "/b/", "/guide", FALSE)
    book = only(books_at(tmp_path, given))
    assert (book.route_base_path, book.links) == ("/guide", Links("https://b.example", "/b/", FALSE))


@pytest.mark.parametrize(
    ("value", "flag", "override"),
    [
        ("url: process.env.URL, baseUrl: '/'", "--site-url", Overrides(site_url="https://given.example")),
        ("url: 'https://a.example', baseUrl: process.env.BASE", "--base-url", Overrides(base_url="/given/")),
        ("url: 'https://a.example', baseUrl: '/', trailingSlash: !!process.env.SLASH", "--trailing-slash", Overrides(trailing_slash=TRUE)),
    ],
)
def test_a_computed_value_stops_naming_it_and_its_flag_until_given_by_hand(tmp_path, value, flag, override):
    root = site(tmp_path, f"module.exports = {{{value}, presets: ['classic']}};")
    with pytest.raises(SiteError) as stopped:
        books_at(root)
    message = str(stopped.value)
    assert "is computed, `" in message and "docusaurus.config.js line 1" in message and flag in message
    assert only(books_at(root, override)).folder == root / "docs"


def test_a_site_address_with_a_path_is_refused_as_docusaurus_refuses_it(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example/base', baseUrl: '/', presets: ['classic']};")
    with pytest.raises(SiteError, match=r"url must be the site's address without a path.*give it as the base URL"):
        books_at(root)


def test_computed_plugins_stop_the_reading_of_the_site(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: makePresets()};")
    with pytest.raises(SiteError, match=r"presets is computed, `makePresets\(\)`.*Index each docs folder by itself with --route-base-path"):
        books_at(root)


def test_a_plugin_list_changed_in_a_way_not_followed_leaves_the_presets_docs_and_is_reported(tmp_path):
    root = site(tmp_path, """\
        const config = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {docs: {routeBasePath: '/'}}]], plugins: []};
        if (process.platform === 'win32') {
          config.plugins = config.plugins.filter((plugin) => plugin !== 'x');
        }
        module.exports = config;
        """)
    said: list[str] = []
    assert only(books_at(root, report=said.append)).route_base_path == "/"
    assert said[0].startswith("docusaurus.config.js: plugins[0] can't be read without running the config (`changed by: if")


def test_a_plugin_entry_that_cant_be_read_is_reported_and_the_others_indexed(tmp_path):
    root = site(tmp_path, """\
        import search from 'some-search-plugin';
        export default {
          url: 'https://a.example', baseUrl: '/',
          presets: [['classic', {docs: false, blog: false}]],
          plugins: [search, ['content-docs', {id: 'notes', path: 'notes', routeBasePath: '/'}], ...extraPlugins],
        };
        """, "notes", "docs")
    said: list[str] = []
    book = only(books_at(root, report=said.append))
    assert (book.id, book.folder, book.route_base_path) == ("notes", root / "notes", "/")
    assert said[0].startswith("docusaurus.config.js: plugins[0] can't be read") and "plugins[2]" in said[1]
    # A folder no readable instance reads may be one of those: said, not guessed.
    with pytest.raises(SiteError, match=r"plugins\[0\] is computed"):
        books_at(root / "docs")


def test_the_classic_preset_alone_gives_the_default_book_with_docusaurus_defaults(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: ['@docusaurus/preset-classic']};")
    book = only(books_at(root))
    assert (book.id, book.folder, book.route_base_path) == ("default", root / "docs", "/docs")


def test_a_preset_of_its_own_that_takes_docs_options_is_named_when_no_docs_instance_is_known(tmp_path):
    # capacitor's and metro's configs: a preset that wraps the classic one
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', "
                          "presets: [['@ionic-docs/preset-classic', {docs: {routeBasePath: '/'}}]]};")
    with pytest.raises(SiteError, match=r"a preset Bookbot does not know, presets\[0\] \('@ionic-docs/preset-classic'\).*--route-base-path"):
        books_at(root)


def test_no_docs_instance_at_all_is_said(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {docs: false}]]};")
    with pytest.raises(SiteError, match="the site has no docs instance"):
        books_at(root)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("plugins: [['content-docs', {id: 'a', path: 'docs'}], ['content-docs', {id: 'a', path: 'docs'}]]", "more than one docs instance has the id 'a'"),
        ("plugins: [['content-docs', {id: 'has space'}]]", "must be letters, digits, _ and -"),
        ("plugins: [['content-docs', {path: 'nowhere'}]]", "nowhere, does not exist"),
        ("plugins: [['content-docs', {routeBasePath: base()}]]", "routeBasePath of the docs plugin plugins[0], id 'default' is computed"),
        ("plugins: [['content-docs', {exclude: ['**/_*', 3]}]]", "exclude of the docs plugin plugins[0], id 'default' must be a list of glob strings"),
        ("plugins: [['content-docs', {numberPrefixParser: (name) => ({filename: name})}]]", "numberPrefixParser of the docs plugin"),
    ],
)
def test_an_instance_docusaurus_would_refuse_is_refused(tmp_path, config, message):
    root = site(tmp_path, f"module.exports = {{url: 'https://a.example', baseUrl: '/', {config}}};")
    with pytest.raises(SiteError) as stopped:
        books_at(root)
    assert message in str(stopped.value)


def test_a_route_base_path_by_hand_fits_one_instance_only():
    with pytest.raises(SiteError, match=r"fits one docs instance, and the site has 2 \(default, guide\)"):
        books_at(FIXTURE_SITE, Overrides(route_base_path="/x"))
    assert only(books_at(GUIDE, Overrides(route_base_path="/x"))).route_base_path == "/x"


def test_number_prefixes_stay_when_the_parser_is_off(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {docs: {numberPrefixParser: false}}]]};")
    assert only(books_at(root)).number_prefixes is False


@pytest.mark.parametrize(
    ("options", "versions", "folder", "route", "current_route"),
    [
        # plugin-content-docs' rules: readers land on `lastVersion`, by default the latest release (the first of
        # versions.json), served at the route base path; the docs folder is then "next"
        ("{}", None, "docs", "/docs", "/docs"),
        ("{}", ["2.0", "1.0"], "versioned_docs/version-2.0", "/docs", "/docs/next"),
        ("{lastVersion: '1.0'}", ["2.0", "1.0"], "versioned_docs/version-1.0", "/docs", "/docs/next"),
        ("{lastVersion: 'current'}", ["2.0"], "docs", "/docs", "/docs"),
        ("{versions: {current: {path: 'unreleased'}}}", ["2.0"], "versioned_docs/version-2.0", "/docs", "/docs/unreleased"),
        ("{versions: {'2.0': {path: 'v2'}}}", ["2.0"], "versioned_docs/version-2.0", "/docs/v2", "/docs/next"),
        ("{onlyIncludeVersions: ['current']}", ["2.0"], "docs", "/docs", "/docs"),
        ("{disableVersioning: true}", ["2.0"], "docs", "/docs", "/docs"),
    ],
)
def test_a_versioned_site_is_indexed_as_the_version_its_readers_land_on(tmp_path, options, versions, folder, route, current_route):
    root = site(tmp_path, f"module.exports = {{url: 'https://a.example', baseUrl: '/', presets: [['classic', {{docs: {options}}}]]}};",
                "docs", "versioned_docs/version-2.0", "versioned_docs/version-1.0")
    if versions is not None:
        (root / "versions.json").write_text(json.dumps(versions))
    book = only(books_at(root))
    assert (book.folder, book.route_base_path) == ((root / folder).resolve(), route)
    # the docs folder given by itself is the unreleased version, where the site serves it
    assert only(books_at(root / "docs")).route_base_path == current_route


def test_an_older_release_given_by_itself_is_served_where_the_site_serves_it(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', "
                          "{docs: {versions: {'1.0': {path: 'old'}}}}]]};", "docs", "versioned_docs/version-2.0",
                "versioned_docs/version-1.0", "versioned_docs/version-1.0/sub", "versioned_docs/version-0.9")
    (root / "versions.json").write_text('["2.0", "1.0", "0.9"]')
    routes = {version: only(books_at(root / "versioned_docs" / f"version-{version}")).route_base_path for version in ("2.0", "1.0", "0.9")}
    assert routes == {"2.0": "/docs", "1.0": "/docs/old", "0.9": "/docs/0.9"}
    with pytest.raises(SiteError, match=r"inside the docs of .*versioned_docs/version-1.0\); index"):
        books_at(root / "versioned_docs" / "version-1.0" / "sub")


def test_a_computed_entry_of_only_include_versions_stops_as_the_whole_list_would(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', "
                          "{docs: {onlyIncludeVersions: ['current', process.env.V]}}]]};", "docs", "versioned_docs/version-2.0")
    (root / "versions.json").write_text('["2.0"]')
    with pytest.raises(SiteError, match="onlyIncludeVersions .* is computed"):
        books_at(root)


def test_a_plugin_instance_s_released_versions_are_in_its_own_folders(tmp_path):
    root = site(tmp_path, """\
        module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {docs: false}]],
          plugins: [['content-docs', {id: 'api', path: 'api', routeBasePath: 'reference'}]]};
        """, "api", "api_versioned_docs/version-3")
    (root / "api_versions.json").write_text('["3"]')
    book = only(books_at(root))
    assert (book.folder, book.route_base_path) == ((root / "api_versioned_docs/version-3").resolve(), "/reference")


def test_a_released_version_without_its_docs_stops_naming_the_folder(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {}]]};")
    (root / "versions.json").write_text('["2.0"]')
    with pytest.raises(SiteError, match=r"serves version 2.0 to its readers.*versioned_docs/version-2.0"):
        books_at(root)


def test_a_computed_version_option_stops_naming_each_version_s_folder_and_its_route(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', "
                          "{docs: {lastVersion: process.env.PREVIEW ? 'current' : undefined}}]]};", "docs", "versioned_docs/version-2.0")
    (root / "versions.json").write_text('["2.0"]')
    released, unreleased = root.resolve() / "versioned_docs" / "version-2.0", root.resolve() / "docs"
    with pytest.raises(SiteError, match=f"lastVersion .* is computed.*{re.escape(str(released))} with --route-base-path /docs .*"
                                        f"{re.escape(str(unreleased))} with --route-base-path /docs/next"):
        books_at(root)
    # as the message says
    book = only(books_at(released, Overrides(route_base_path="/docs")))
    assert (book.folder, book.route_base_path, book.links.site_url) == (released, "/docs", "https://a.example")


def test_a_last_version_the_site_does_not_build_is_refused_as_docusaurus_refuses_it(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {docs: {lastVersion: '3.0'}}]]};")
    (root / "versions.json").write_text('["2.0"]')
    with pytest.raises(SiteError, match=r"lastVersion .* is '3.0', which the site does not build \(it builds current, 2.0\)"):
        books_at(root)


def test_a_site_that_builds_no_version_of_an_instance_leaves_it_out(tmp_path):
    root = site(tmp_path, """\
        module.exports = {url: 'https://a.example', baseUrl: '/',
          presets: [['classic', {docs: {includeCurrentVersion: false}}]],
          plugins: [['content-docs', {id: 'api', path: 'api'}]]};
        """, "docs", "api")
    said: list[str] = []
    assert [book.id for book in books_at(root, report=said.append)] == ["api"]
    assert "builds no version of its docs" in said[0]


def test_without_its_current_version_a_site_is_indexed_as_its_latest_release(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', presets: [['classic', {docs: {includeCurrentVersion: false}}]]};",
                "docs", "versioned_docs/version-2.0")
    (root / "versions.json").write_text('["2.0"]')
    assert only(books_at(root)).folder == (root / "versioned_docs/version-2.0").resolve()
    with pytest.raises(SiteError, match="none of its docs instances reads it"):
        books_at(root / "docs")


def test_a_config_that_is_not_javascript_says_so_and_what_to_pass(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example\n};")
    with pytest.raises(SiteError, match=r"can't be read \(docusaurus.config.js line 1: a string is never closed\); index the docs folder itself"):
        books_at(root)


def test_a_typescript_config_is_found_by_its_name(tmp_path):
    root = site(tmp_path, "const config: Config = {url: 'https://a.example', baseUrl: '/b/', presets: ['classic']};\nexport default config;\n", name="docusaurus.config.ts")
    assert only(books_at(root)).links == Links("https://a.example", "/b/", UNSET)


def test_the_fixture_is_found_from_its_docs_folder_copied_elsewhere(tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(FIXTURE_SITE, copy, ignore=shutil.ignore_patterns("node_modules", "package-lock.json"))
    assert [book.folder for book in books_at(copy)] == [copy / "handbook", copy / "guide-docs"]


def test_an_instance_computed_from_the_environment_stops_and_its_folder_can_be_given_by_hand(tmp_path):
    root = site(tmp_path, """\
        const isInternal = process.env.DOCS_ENV === 'internal';
        export default {
          url: isInternal ? 'https://internal.example' : 'https://wiki.example', baseUrl: '/', trailingSlash: true,
          presets: [['classic', {docs: false, blog: false}]],
          plugins: [['@docusaurus/plugin-content-docs', {
            id: isInternal ? 'internal' : 'public',
            path: isInternal ? 'docs-internal' : 'docs-public',
            routeBasePath: '/',
          }]],
        };
        """, "docs-public")
    with pytest.raises(SiteError, match=r"id of the docs plugin plugins\[0\] is computed, `isInternal \? 'internal' : 'public'` \(docusaurus.config.js line 6\).*--route-base-path"):
        books_at(root)
    with pytest.raises(SiteError, match=r"url is computed.*--site-url"):
        books_at(root / "docs-public", Overrides(route_base_path="/"))
    book = only(books_at(root / "docs-public", Overrides(site_url="https://wiki.example", route_base_path="/")))
    assert (book.route_base_path, book.links) == ("/", Links("https://wiki.example", "/", TRUE))


def test_an_instance_s_folder_is_its_book_whatever_another_instance_computes(tmp_path):
    # React Native's community book, beside docs whose onlyIncludeVersions is computed
    root = site(tmp_path, """\
        module.exports = {url: 'https://a.example', baseUrl: '/',
          presets: [['classic', {docs: {onlyIncludeVersions: process.env.PREVIEW ? ['current'] : undefined}}]],
          plugins: [['content-docs', {id: 'community', path: 'community', routeBasePath: 'community', exclude: ['x.md']}]]};
        """, "docs", "community")
    with pytest.raises(SiteError, match=f"onlyIncludeVersions .* is computed.*other docs instances can each be indexed "
                                        f"by their folder: {re.escape(str((root / 'community').resolve()))}"):
        books_at(root)
    community = only(books_at(root / "community"))
    assert (community.id, community.route_base_path, community.exclude) == ("community", "/community", ("x.md",))
    with pytest.raises(SiteError, match="onlyIncludeVersions .* is computed"):
        books_at(root / "docs")


def test_a_computed_docs_path_stops_naming_the_flag_that_indexes_the_folder_by_itself(tmp_path):
    root = site(tmp_path, "module.exports = {url: 'https://a.example', baseUrl: '/', "
                          "presets: [['classic', {docs: {path: process.env.DOCS}}]]};")
    with pytest.raises(SiteError, match=r"path of the classic preset's docs .* is computed.*--route-base-path"):
        books_at(root)
