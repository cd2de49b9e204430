"""lib/book/js_config.py: config files read without Node, and what can't be read said, never guessed."""

from __future__ import annotations

import textwrap

import pytest

from lib.book.js_config import (
    UNDEFINED,
    Computed,
    JsSyntaxError,
    Spread,
    member,
    read_config,
)
from tests.sitebuild import FIXTURE_SITE


def read(tmp_path, source: str, name: str = "docusaurus.config.js", **others: str):
    for other, text in others.items():
        (tmp_path / other.replace("__", ".")).write_text(textwrap.dedent(text))
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return read_config(path)


def test_reads_the_fixtures_three_configs_spreads_and_delete_included():
    plain = read_config(FIXTURE_SITE / "docusaurus.config.js")
    trailing = read_config(FIXTURE_SITE / "docusaurus.trailing.config.js")
    unset = read_config(FIXTURE_SITE / "docusaurus.unset.config.js")
    assert (plain["url"], plain["baseUrl"], plain["trailingSlash"]) == ("https://example.org", "/base/", False)
    assert trailing["trailingSlash"] is True and trailing["presets"] == plain["presets"]
    assert "trailingSlash" not in unset and member(unset, "trailingSlash") is UNDEFINED
    assert plain["plugins"] == [["@docusaurus/plugin-content-docs", {"id": "guide", "path": "guide-docs", "routeBasePath": "guide"}]]
    assert plain["presets"][0][1]["docs"]["exclude"][-1] == "**/archive/**"


def test_reads_docusaurus_3s_javascript_template(tmp_path):
    config = read(tmp_path, """\
        // @ts-check
        import {themes as prismThemes} from 'prism-react-renderer';

        /** @type {import('@docusaurus/types').Config} */
        const config = {
          title: 'My Site',
          url: 'https://your-docusaurus-site.example.com',
          baseUrl: '/',
          future: { v4: true },
          presets: [
            [
              'classic',
              /** @type {import('@docusaurus/preset-classic').Options} */
              ({
                docs: {
                  sidebarPath: './sidebars.js',
                  editUrl: 'https://github.com/facebook/docusaurus/tree/main/packages/create-docusaurus/templates/shared/',
                },
                theme: { customCss: './src/css/custom.css' },
              }),
            ],
          ],
          themeConfig:
            /** @type {import('@docusaurus/preset-classic').ThemeConfig} */
            ({
              prism: { theme: prismThemes.github, darkTheme: prismThemes.dracula },
            }),
        };

        export default config;
        """)
    assert config["url"] == "https://your-docusaurus-site.example.com"
    assert config["presets"][0][1]["docs"]["sidebarPath"] == "./sidebars.js"
    theme = config["themeConfig"]["prism"]["theme"]
    assert isinstance(theme, Computed) and theme.text == "prismThemes.github" and theme.line == 26


def test_reads_the_typescript_template(tmp_path):
    config = read(tmp_path, """\
        import {themes as prismThemes} from 'prism-react-renderer';
        import type {Config} from '@docusaurus/types';
        import type * as Preset from '@docusaurus/preset-classic';

        const config: Config = {
          url: 'https://example.org',
          baseUrl: '/docs-site/',
          trailingSlash: false as boolean,
          presets: [
            ['classic', {docs: {routeBasePath: '/'}, blog: false} satisfies Preset.Options],
          ],
          themeConfig: {navbar: {items: [{type: 'docSidebar', position: 'left'}]}} satisfies Preset.ThemeConfig,
        };

        export default config;
        """, name="docusaurus.config.ts")
    assert (config["url"], config["baseUrl"], config["trailingSlash"]) == ("https://example.org", "/docs-site/", False)
    assert config["presets"] == [["classic", {"docs": {"routeBasePath": "/"}, "blog": False}]]


def test_typed_function_declarations_are_passed_over_and_the_config_after_them_read(tmp_path):
    # as pnpm.io's config has them: a return type, type parameters closed by `>>`, an object return type, `>>>`
    config = read(tmp_path, """\
        function makeEditUrl(locale: string, docPath: string): string {
          if (locale !== 'en') {
            return `https://crowdin.com/${locale}`;
          }
          return `https://github.com/x/edit/main/${docPath}`;
        }
        function withBaseUrls<T extends Record<string, object>> (configs: T): T {
          return Object.fromEntries(Object.entries(configs)) as T;
        }
        function label(): {text: string} {
          return {text: 'x'};
        }
        async function load(): Promise<Array<Map<string, number>>> {
          return [];
        }
        function maker(): (x: number) => string {
          return String;
        }
        const config = {url: 'https://example.org', baseUrl: '/', presets: [['classic', {docs: {path: './docs'}}]]};
        export default config;
        """, name="docusaurus.config.ts")
    assert (config["url"], config["presets"][0][1]["docs"]["path"]) == ("https://example.org", "./docs")


def test_reads_docusaurus_2s_commonjs_template(tmp_path):
    config = read(tmp_path, """\
        const lightCodeTheme = require('prism-react-renderer/themes/github');

        /** @type {import('@docusaurus/types').Config} */
        const config = {
          url: "https://example.org",
          baseUrl: "/",
          presets: [
            [
              require.resolve('@docusaurus/preset-classic'),
              ({ docs: { sidebarPath: require.resolve('./sidebars.js') } }),
            ],
          ],
          themeConfig: { prism: { theme: lightCodeTheme } },
        }

        module.exports = config
        """)
    assert config["presets"][0][0] == "@docusaurus/preset-classic"
    assert config["presets"][0][1]["docs"]["sidebarPath"] == "./sidebars.js"
    assert isinstance(config["themeConfig"]["prism"]["theme"], Computed)


def test_a_computed_value_says_what_it_is_and_where(tmp_path):
    config = read(tmp_path, """\
        const name = 'garden';
        module.exports = {
          url: process.env.SITE_URL ?? 'https://example.org',
          baseUrl: `/${name}/`,
          title: `The ${'garden'}`,
          tagline: `plain`,
          trailingSlash: isProduction() ? false : undefined,
        };
        """)
    assert config["url"] == Computed("process.env.SITE_URL ?? 'https://example.org'", "docusaurus.config.js", 3)
    assert config["baseUrl"] == "/garden/"  # a template of known names is read
    assert config["title"] == Computed("`The ${'garden'}`", "docusaurus.config.js", 5)  # of anything more, not
    assert config["tagline"] == "plain"
    assert config["trailingSlash"].describe() == "`isProduction() ? false : undefined` (docusaurus.config.js line 7)"


def test_strings_joined_from_known_parts_are_read_and_the_others_are_computed(tmp_path):
    config = read(tmp_path, """\
        const HOST = 'example.com';
        const site = {root: 'https://example.org'};
        module.exports = {
          url: 'https://' + HOST,
          baseUrl: `${site.root}/docs/`,
          title: 'v' + 3,
          tagline: 'from ' + process.env.WHERE,
          favicon: `${process.env.CDN}/favicon.ico`,
        };
        """)
    assert (config["url"], config["baseUrl"], config["title"]) == ("https://example.com", "https://example.org/docs/", "v3")
    assert isinstance(config["tagline"], Computed) and isinstance(config["favicon"], Computed)
    assert config["favicon"].describe() == "<`${process.env.CDN}/favicon.ico`> (docusaurus.config.js line 8)"


@pytest.mark.parametrize(
    "export",
    [
        "export default async function createConfig() {\n  const math = (await import('remark-math')).default;\n  return {url: 'https://a.example', baseUrl: '/b/', remark: [math]};\n}",
        "module.exports = async () => ({url: 'https://a.example', baseUrl: '/b/'});",
        "module.exports = function () { return {url: 'https://a.example', baseUrl: '/b/'}; };",
        "export default createConfig;\nfunction createConfig() { return {url: 'https://a.example', baseUrl: '/b/'} }",
    ],
)
def test_an_exported_function_is_read_up_to_what_it_returns(tmp_path, export):
    config = read(tmp_path, export)
    assert (config["url"], config["baseUrl"]) == ("https://a.example", "/b/")


def test_a_functions_parameter_is_computed(tmp_path):
    config = read(tmp_path, "module.exports = (env) => ({url: env.url, baseUrl: '/'});")
    assert isinstance(config["url"], Computed) and config["baseUrl"] == "/"


def test_statements_that_change_the_config_are_followed_or_mark_what_they_touch(tmp_path):
    config = read(tmp_path, """\
        const config = {url: 'https://a.example', baseUrl: '/', trailingSlash: false, plugins: [], title: 'T'};
        config.trailingSlash = true;
        config['title'] = 'Garden';
        if (process.env.CI) {
          config.baseUrl = '/ci/';
        }
        config.plugins.push(['@docusaurus/plugin-content-docs', {id: 'more'}]);
        console.log(config.url);
        export default config;
        """)
    assert config["trailingSlash"] is True and config["title"] == "Garden"
    assert config["url"] == "https://a.example"  # only read, never changed
    assert isinstance(config["baseUrl"], Computed) and config["baseUrl"].line == 4
    [spread] = config["plugins"]
    assert isinstance(spread, Spread) and "push" in spread.computed.text


def test_a_whole_object_handed_to_a_call_can_no_longer_be_read(tmp_path):
    config = read(tmp_path, """\
        const config = {url: 'https://a.example', baseUrl: '/'};
        Object.assign(config, loadOverrides());
        module.exports = config;
        """)
    assert isinstance(member(config, "url"), Computed) and isinstance(member(config, "baseUrl"), Computed)


def test_spreads_keep_what_comes_after_and_lose_what_a_computed_spread_may_replace(tmp_path):
    config = read(tmp_path, """\
        const base = {url: 'https://a.example', baseUrl: '/', title: 'Base'};
        const shared = loadShared();
        export default {
          ...base,
          title: 'Mine',
          nested: {url: 'https://kept.example', ...shared},
          after: {...shared, baseUrl: '/kept/'},
          list: [...['a', 'b'], ...more(), 'c'],
        };
        """)
    assert (config["url"], config["title"]) == ("https://a.example", "Mine")
    assert isinstance(member(config["nested"], "url"), Computed)  # the spread after it may replace it
    assert member(config["after"], "baseUrl") == "/kept/" and isinstance(member(config["after"], "url"), Computed)
    assert config["list"][:2] == ["a", "b"] and isinstance(config["list"][2], Spread) and config["list"][3] == "c"
    assert isinstance(member(config["list"], 3), Computed)  # its index is not known after a computed spread


def test_a_conditional_spread_makes_unknown_only_the_keys_it_may_add(tmp_path):
    # saleor's and many sites' analytics: `...(id && {googleTagManager: ...})`
    config = read(tmp_path, """\
        const gtm = process.env.GTM_ID;
        const production = process.env.NODE_ENV === 'production';
        module.exports = {
          ...(process.env.X || {}),
          url: 'https://example.org',
          presets: [['classic', {
            docs: {routeBasePath: '/'},
            blog: false,
            ...(gtm && {googleTagManager: {containerId: gtm}}),
            ...(production ? {gtag: {trackingID: 'G-1'}} : {}),
            ...production && {blog: {path: 'news'}},
          }]],
        };
        """)
    preset = config["presets"][0][1]
    assert preset["docs"] == {"routeBasePath": "/"}
    assert all(isinstance(preset[key], Computed) for key in ("googleTagManager", "gtag", "blog"))
    assert config["url"] == "https://example.org"
    assert isinstance(member(config, "baseUrl"), Computed)  # `...(x || {})` may give any key written before it


def test_requires_and_imports_local_files_and_json(tmp_path):
    config = read(
        tmp_path,
        """\
        import base from './base.config.mjs';
        const site = require('./site.json');
        const {routes} = require('./routes.js');
        export default {...base, url: site.url, docs: routes.docs, missing: require('./nowhere.js')};
        """,
        base__config__mjs="export default {baseUrl: '/from-base/'};\n",
        site__json='{"url": "https://json.example"}',
        routes__js="module.exports.routes = {docs: 'handbook'};\n",
    )
    assert (config["baseUrl"], config["url"], config["docs"]) == ("/from-base/", "https://json.example", "handbook")
    assert isinstance(config["missing"], Computed) and "not found" in config["missing"].text


def test_comments_regexes_and_punctuation_inside_strings_do_not_confuse_it(tmp_path):
    config = read(tmp_path, """\
        #!/usr/bin/env node
        /* a comment with { braces } and 'quotes' */
        module.exports = {
          url: 'https://example.org', // a comment: baseUrl: '/wrong/'
          baseUrl: "/with 'quotes' and // slashes/",
          pattern: /[}'"]\\/x/g,
          ratio: 10 / 2,
          escaped: 'it\\'s\\u0041\\x42',
          'quoted-key': 1_000,
          42: 'number key',
          [`computed`]: 'template key',
        };
        """)
    assert config["url"] == "https://example.org" and config["baseUrl"] == "/with 'quotes' and // slashes/"
    assert isinstance(config["pattern"], Computed) and isinstance(config["ratio"], Computed)
    assert config["escaped"] == "it'sAB" and config["quoted-key"] == 1000
    assert config["42"] == "number key" and config["computed"] == "template key"


def test_methods_and_arrow_functions_in_the_config_are_passed_over(tmp_path):
    config = read(tmp_path, """\
        export default {
          url: 'https://example.org',
          plugins: [
            function myPlugin() { return {name: 'mine', loadContent() { return {}; }}; },
            async () => { const x = {a: '}'}; return x; },
          ],
          clientModules: [require.resolve('./client.js')],
          createRedirects(existingPath) { if (existingPath.includes('/x')) { return ['/y']; } },
          baseUrl: '/',
        };
        """)
    assert config["baseUrl"] == "/" and config["clientModules"] == ["./client.js"]
    assert len(config["plugins"]) == 2


def test_a_file_that_is_not_javascript_is_a_syntax_error_naming_the_line(tmp_path):
    with pytest.raises(JsSyntaxError, match="line 2: a string is never closed"):
        read(tmp_path, "module.exports = {\n  url: 'https://example.org,\n};\n")


@pytest.mark.parametrize("statement", ["import { a, b\n", "import { a as\n", "export { a, b\n"])
def test_an_import_or_export_list_cut_off_by_the_end_of_the_file_is_a_syntax_error_not_a_hang(tmp_path, statement):
    with pytest.raises(JsSyntaxError, match="expected '}', found the end of the file"):
        read(tmp_path, statement)


def test_a_name_called_type_is_a_name_in_an_export_list(tmp_path):
    config = read(
        tmp_path, "import { kind, type } from './other.js';\nexport default { kind, type };\n",
        other__js="const type = 'docs';\nexport { type as kind, type };\n",
    )
    assert config == {"kind": "docs", "type": "docs"}
