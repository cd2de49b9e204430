"""A Docusaurus site's books, from its docusaurus.config.{js,mjs,ts,cjs,mts,cts} read without Node.

What decides a doc's address: the site's `url`, `baseUrl` and `trailingSlash`; and for each docs instance
(the classic preset's `docs`, unless `docs: false`, and every `@docusaurus/plugin-content-docs`) its `id`,
`path`, `routeBasePath`, `include`, `exclude`, `numberPrefixParser`, and its versions. Each instance is one
book: the version its readers land on (the latest release of a versioned site, from `versioned_docs/`). A
value that the file computes (lib.book.js_config) stops the reading with a message that names it and the
flag that gives it by hand: never a guess, never a wrong link.

Overrides (flags of python -m lib.ingest, or BOOK_* variables) replace a value before it is read, so a
computed value that is overridden is never needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import attrs
from attrs import frozen

from lib.book import links as link_forms
from lib.book.globs import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from lib.book.js_config import (
    UNDEFINED,
    Computed,
    Function,
    JsObject,
    JsSyntaxError,
    Spread,
    member,
    read_config,
)
from lib.book.links import Links

CONFIG_NAMES = tuple(f"docusaurus.config.{extension}" for extension in ("js", "mjs", "ts", "cjs", "mts", "cts"))
DEFAULT_ID = "default"
DEFAULT_ROUTE_BASE_PATH = "/docs"
CURRENT = "current"  # plugin-content-docs' name for the version in the docs folder itself
_CLASSIC = ("classic", "@docusaurus/preset-classic", "docusaurus-preset-classic")
_DOCS_PLUGIN = ("content-docs", "@docusaurus/plugin-content-docs", "docusaurus-plugin-content-docs")
_FLAGS = {
    "url": "--site-url (BOOK_URL for the service)",
    "baseUrl": "--base-url (BOOK_BASE_URL)",
    "trailingSlash": "--trailing-slash true, false or unset (BOOK_TRAILING_SLASH)",
    "routeBasePath": "--route-base-path (BOOK_ROUTE_BASE_PATH), with the docs folder itself as the source",
}


class SiteError(ValueError):
    """Raised when a site's config can't say where its docs are served; the message names what to pass."""


@frozen
class Overrides:
    """Values given by hand, each replacing the config's (None: take the config's)."""

    site_url: str | None = None
    base_url: str | None = None
    route_base_path: str | None = None
    trailing_slash: str | None = None

    @classmethod
    def of(cls, config) -> "Overrides":
        return cls(config.book_url, config.book_base_url, config.book_route_base_path, config.book_trailing_slash)


@frozen
class Book:
    """One docs instance to index: its id, its folder, the route its docs start at, which files are docs."""

    id: str
    folder: Path
    route_base_path: str
    links: Links
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    number_prefixes: bool = True
    names_from: Path | None = None  # docs are named by their path from here (the site root); None: the folder


def find_config(folder: Path) -> Path | None:
    """The Docusaurus config file of the site rooted at `folder`, if it is one."""
    return next((folder / name for name in CONFIG_NAMES if (folder / name).is_file()), None)


def books_at(path: Path, overrides: Overrides = Overrides(), report: Callable[[str], None] = lambda message: None) -> list[Book]:
    """The books to index for a folder: a site root's docs instances, the instance whose `path` the folder is,
    or the folder alone (served at /docs unless overridden)."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"no folder at {path}")
    config = find_config(path)
    if config is not None:
        return Site(config, overrides, report).books()
    for parent in path.parents:
        config = find_config(parent)
        if config is not None:
            return [Site(config, overrides, report).book_in(path)]
    return [alone(path, overrides)]


def alone(folder: Path, overrides: Overrides = Overrides()) -> Book:
    """A docs folder with no site around it: Docusaurus' defaults, and what was given by hand."""
    return Book(
        id=DEFAULT_ID,
        folder=folder,
        route_base_path=overrides.route_base_path or DEFAULT_ROUTE_BASE_PATH,
        links=Links(overrides.site_url, overrides.base_url or "/", overrides.trailing_slash),
    )


@frozen
class _Instance:
    id: str
    folder: Path  # the docs of the version readers land on
    route_base_path: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    number_prefixes: bool
    where: str  # how the config names it, for messages
    versions: tuple[tuple[Path, str], ...] = ()  # every version the site builds: its folder, its route


@frozen
class _Served:
    last: str  # the version readers land on: "current" (the docs folder) or a released version's name
    paths: dict[str, str]  # each version the site builds, by name: its path under the route base path


class Site:
    """A site's config, read once; each value checked when it is first needed."""

    def __init__(self, config: Path, overrides: Overrides = Overrides(), report: Callable[[str], None] = lambda message: None):
        self.config = config
        self.root = config.parent
        self.overrides = overrides
        self.report = report
        self.opaque: list[tuple[str, Computed]] = []  # plugin entries that can't be read, once instances are
        self.wrappers: list[str] = []  # presets not known here that take docs options, once instances are
        try:
            self.value = read_config(config)
        except JsSyntaxError as error:
            raise SiteError(f"{config}: can't be read ({error}); index the docs folder itself, giving "
                            f"--site-url, --base-url, --route-base-path and --trailing-slash") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise SiteError(f"{config}: can't be read ({error})") from None

    # ---- values

    def _fail(self, name: str, problem: str) -> SiteError:
        flag = _FLAGS.get(name)
        remedy = f"; pass {flag} with the value the built site uses" if flag else ""
        return SiteError(f"{self.config}: {name} {problem}{remedy}")

    def _computed(self, name: str, value: Computed) -> SiteError:
        return self._fail(name, f"is computed, {value.describe()}, and Bookbot reads the file without running it")

    def links(self) -> Links:
        return Links(self.site_url(), self.base_url(), self.trailing_slash())

    def site_url(self) -> str:
        return self.overrides.site_url or self._address("url", link_forms.site_url)

    def base_url(self) -> str:
        return self.overrides.base_url or self._address("baseUrl", link_forms.base_url)

    def _address(self, key: str, parse: Callable[[str], str]) -> str:
        """The config's `url` or `baseUrl`, as Docusaurus normalises it."""
        value = member(self.value, key)
        if isinstance(value, Computed):
            raise self._computed(key, value)
        if not isinstance(value, str):
            raise self._fail(key, f"is missing or not a string ({_shown(value)})")
        try:
            return parse(value)
        except ValueError as error:
            raise self._fail(key, str(error)) from None

    def trailing_slash(self) -> str:
        if self.overrides.trailing_slash:
            return self.overrides.trailing_slash
        value = member(self.value, "trailingSlash")
        if isinstance(value, Computed):
            raise self._computed("trailingSlash", value)
        if value is UNDEFINED or value is None:
            return link_forms.UNSET
        if not isinstance(value, bool):
            raise self._fail("trailingSlash", f"must be true, false or left out, got {_shown(value)}")
        return link_forms.TRUE if value else link_forms.FALSE

    # ---- books

    def books(self) -> list[Book]:
        """Every docs instance of the site, as books; an instance that can't be read stops with its reason."""
        unreadable: list[SiteError] = []
        instances = self._instances(unreadable)
        if unreadable:
            others = ", ".join(str(instance.folder) for instance in instances)
            raise SiteError(f"{unreadable[0]}" + (f". The site's other docs instances can each be indexed by their "
                                                  f"folder: {others}" if others else "")) from None
        for where, value in self.opaque:
            self.report(f"{self.config.name}: {where} can't be read without running the config "
                        f"({value.describe()}); if it is a docs instance, index its folder by itself "
                        "with --route-base-path")
        if not instances and self.wrappers:
            raise SiteError(f"{self.config}: the site's docs come from a preset Bookbot does not know, "
                            f"{', '.join(self.wrappers)}, which takes docs options; if it wraps the classic preset, "
                            f"index its docs folder by itself with {_FLAGS['routeBasePath']}")
        if not instances:
            raise SiteError(f"{self.config}: the site has no docs instance (the classic preset's docs are off, "
                            "and there is no @docusaurus/plugin-content-docs)")
        if self.overrides.route_base_path and len(instances) > 1:
            raise SiteError(
                f"{self.config}: a route base path given by hand fits one docs instance, and the site has "
                f"{len(instances)} ({', '.join(instance.id for instance in instances)}); index one instance's "
                "folder with it instead"
            )
        links = self.links()
        return [self._book(instance, links) for instance in instances]

    def book_in(self, folder: Path) -> Book:
        """The book whose docs folder `folder` is; another instance that can't be read does not matter."""
        unreadable: list[SiteError] = []
        try:
            instances = self._instances(unreadable)
        except SiteError:
            if not self.overrides.route_base_path:
                raise
            instances = []
        for instance in instances:
            for version_folder, route in instance.versions:
                if version_folder == folder:  # the version readers land on, or another the site builds
                    return self._book(attrs.evolve(instance, folder=folder, route_base_path=route), self.links())
        if self.overrides.route_base_path:
            return Book(DEFAULT_ID, folder, self.overrides.route_base_path, self.links(), names_from=self.root)
        if unreadable:
            raise unreadable[0]  # it may be this folder's instance
        if self.opaque:
            raise self._unreadable(*self.opaque[0])
        inside = next(((instance, version_folder) for instance in instances for version_folder, _ in instance.versions
                       if version_folder in folder.parents), None)
        if inside is not None:
            instance, version_folder = inside
            raise SiteError(
                f"{folder} is a folder inside the docs of {instance.where} ({version_folder}); index "
                f"{version_folder} or the site root {self.root}, or give --route-base-path for this folder"
            )
        used = ", ".join(str(instance.folder.relative_to(self.root)) if instance.folder.is_relative_to(self.root)
                         else str(instance.folder) for instance in instances) or "none"
        raise SiteError(
            f"{folder} is inside the Docusaurus site {self.root}, but none of its docs instances reads it "
            f"(their folders: {used}); index the site root, or give --route-base-path for this folder"
        )

    def _book(self, instance: _Instance, links: Links) -> Book:
        if not instance.folder.is_dir():
            raise SiteError(f"{self.config}: the folder of {instance.where}, {instance.folder}, does not exist")
        return Book(
            id=instance.id,
            folder=instance.folder,
            route_base_path=self.overrides.route_base_path or instance.route_base_path,
            links=links,
            include=instance.include,
            exclude=instance.exclude,
            number_prefixes=instance.number_prefixes,
            names_from=self.root,
        )

    def _instances(self, unreadable: list[SiteError] | None = None) -> list[_Instance]:
        """The docs instances; a plugin entry that can't be read is left out and kept in `opaque`. An instance
        whose options stop the reading raises, or, given `unreadable`, is left out and its error kept there."""
        found: list[_Instance] = []
        for where, options in self._docs_options():
            try:
                instance = self._instance(where, options)
            except SiteError as error:
                if unreadable is None:
                    raise
                unreadable.append(error)
                continue
            if instance is not None:
                found.append(instance)
        ids = [instance.id for instance in found]
        repeated = sorted({name for name in ids if ids.count(name) > 1})
        if repeated:
            raise SiteError(f"{self.config}: more than one docs instance has the id {repeated[0]!r}")
        return found

    def _docs_options(self) -> list[tuple[str, Any]]:
        """(how the config names it, its options) for each docs instance the presets and plugins declare."""
        entries: list[tuple[str, Any]] = []
        self.opaque, self.wrappers = [], []
        for kind, names in (("presets", _CLASSIC), ("plugins", _DOCS_PLUGIN)):
            listed = member(self.value, kind)
            if listed is UNDEFINED or listed is None:
                continue
            if isinstance(listed, Computed):
                if kind == "presets":
                    raise self._unreadable(kind, listed)
                self.opaque.append((kind, listed))  # the preset's docs are still known
                continue
            if not isinstance(listed, list):
                raise SiteError(f"{self.config}: {kind} must be a list, got {_shown(listed)}")
            for position, entry in enumerate(listed):
                where = f"{kind}[{position}]"
                name, options = _entry(entry)
                if isinstance(name, Computed):
                    if kind == "presets":
                        raise self._unreadable(where, name)
                    self.opaque.append((where, name))
                    continue
                if name not in names:
                    if kind == "presets" and isinstance(member(options, "docs"), JsObject):
                        self.wrappers.append(f"{where} ({name!r})")  # a preset of its own that takes docs options
                    continue
                if kind == "presets":
                    docs = member(options, "docs")
                    if docs is False:
                        continue
                    if isinstance(docs, Computed):
                        raise self._unreadable(f"{where} docs", docs)
                    entries.append((f"the classic preset's docs ({where})", docs))
                else:
                    entries.append((f"the docs plugin {where}", options))
        return entries

    def _unreadable(self, where: str, value: Computed) -> SiteError:
        return SiteError(
            f"{self.config}: {where} is computed, {value.describe()}, and Bookbot reads the file without running "
            "it, so it can't tell which docs instances the site has. Index each docs folder by itself with "
            "--route-base-path (and --site-url, --base-url, --trailing-slash if those are computed too), or "
            "crawl the built site by its address"
        )

    def _instance(self, where: str, options: Any) -> _Instance | None:
        if options is UNDEFINED or options is None or options is True:
            options = JsObject()
        if not isinstance(options, JsObject):
            raise self._unreadable(where, options) if isinstance(options, Computed) else SiteError(
                f"{self.config}: the options of {where} must be an object, got {_shown(options)}")

        def option(name: str, default: Any) -> Any:
            value = member(options, name)
            if isinstance(value, Computed):
                flag = _FLAGS["routeBasePath"] if name in ("routeBasePath", "id", "path") else None
                remedy = (f"; index its folder by itself with {flag}" if flag else
                          "; Bookbot can't tell which files are docs or where they are served without it: "
                          "crawl the built site by its address instead")
                raise SiteError(f"{self.config}: {name} of {where} is computed, {value.describe()}, and Bookbot "
                                f"reads the file without running it{remedy}")
            return default if value is UNDEFINED else value

        plugin_id = option("id", DEFAULT_ID)
        if not isinstance(plugin_id, str) or not link_forms.BOOK_ID.fullmatch(plugin_id):
            raise SiteError(f"{self.config}: the id of {where} must be letters, digits, _ and -, got {_shown(plugin_id)}")
        where = f"{where}, id {plugin_id!r}"
        folder = option("path", "docs")
        route = option("routeBasePath", "docs")
        include = option("include", list(DEFAULT_INCLUDE))
        exclude = option("exclude", list(DEFAULT_EXCLUDE))
        for name, value in (("path", folder), ("routeBasePath", route)):
            if not isinstance(value, str):
                raise SiteError(f"{self.config}: {name} of {where} must be a string, got {_shown(value)}")
        for name, value in (("include", include), ("exclude", exclude)):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise SiteError(f"{self.config}: {name} of {where} must be a list of glob strings, got {_shown(value)}")
        prefixes = option("numberPrefixParser", True)
        if isinstance(prefixes, Function):
            raise SiteError(f"{self.config}: numberPrefixParser of {where} is a function of the site's own, which "
                            "Bookbot can't run to know the docs' routes; crawl the built site by its address instead")
        base = link_forms.route_base_path(route)
        served = self._served_version(plugin_id, options, where, folder, base)
        if served is None:
            self.report(f"{self.config.name}: {where} builds no version of its docs "
                        "(includeCurrentVersion/onlyIncludeVersions); it is not indexed")
            return None
        def folder_of(version: str) -> Path:
            return (self.root / (folder if version == CURRENT else f"{_versioned(plugin_id)}/version-{version}")).resolve()

        last_folder = folder_of(served.last)
        if served.last != CURRENT and not last_folder.is_dir():
            raise SiteError(f"{self.config}: {where} serves version {served.last} to its readers, and its docs "
                            f"({last_folder}) are not there; index the docs folder by itself with {_FLAGS['routeBasePath']}")
        return _Instance(
            id=plugin_id,
            folder=last_folder,
            route_base_path=_under(base, served.paths[served.last]),
            include=tuple(include),
            exclude=tuple(exclude),
            number_prefixes=bool(prefixes),
            where=where,
            versions=tuple((folder_of(version), _under(base, path)) for version, path in served.paths.items()),
        )

    def _served_version(self, plugin_id: str, options: JsObject, where: str, folder: str, base: str) -> _Served | None:
        """The version readers land on, as plugin-content-docs decides it: `lastVersion`, by default the first
        of versions.json (the latest release), else the docs folder itself ("current"); with the path each is
        served under. None when no version is built."""
        versions: list = []
        file = self.root / ("versions.json" if plugin_id == DEFAULT_ID else f"{plugin_id}_versions.json")
        if file.is_file():
            try:
                versions = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise SiteError(f"{file}: can't be read ({error})") from None
            if not isinstance(versions, list) or not all(isinstance(version, str) for version in versions):
                raise SiteError(f"{file}: must be a JSON list of version names")

        def known(name: str, value: Any) -> Any:
            if isinstance(value, (Computed, Spread)):
                computed = value.computed if isinstance(value, Spread) else value
                released = (self.root / _versioned(plugin_id) / f"version-{versions[0]}").resolve() if versions else None
                latest = (f"{released} with --route-base-path {base} (its latest release, where readers land by "
                          "default), or " if released else "")
                raise SiteError(f"{self.config}: {name} of {where} is computed, {computed.describe()}, and Bookbot "
                                f"reads the file without running it; index one version's folder by itself: {latest}"
                                f"{(self.root / folder).resolve()} with --route-base-path {_under(base, 'next') if versions else base}")
            return value

        if known("disableVersioning", member(options, "disableVersioning")) is True:
            versions = []
        built = list(versions)
        if known("includeCurrentVersion", member(options, "includeCurrentVersion")) is not False and CURRENT not in built:
            built.insert(0, CURRENT)
        only = known("onlyIncludeVersions", member(options, "onlyIncludeVersions"))
        if isinstance(only, list):
            only = [known("onlyIncludeVersions", version) for version in only]
            built = [version for version in built if version in only]
        if not built:
            return None
        last = known("lastVersion", member(options, "lastVersion"))
        if last is UNDEFINED or last is None:
            released = [version for version in built if version != CURRENT]
            last = released[0] if released and len(built) > 1 else built[0]
        if last not in built:
            raise SiteError(f"{self.config}: lastVersion of {where} is {last!r}, which the site does not build "
                            f"(it builds {', '.join(built)})")

        def path(version: str) -> str:
            given = known(f"versions[{version!r}].path", member(member(member(options, "versions"), version), "path"))
            if isinstance(given, str):
                return given.strip("/")
            return "" if version == last else ("next" if version == CURRENT else version)

        paths = {}
        for version in map(str, built):
            try:
                paths[version] = path(version)
            except SiteError:
                if version in (last, CURRENT):
                    raise
                # an older release whose path is computed: it is not indexed by itself, and nothing else needs it
        return _Served(str(last), paths)


def _versioned(plugin_id: str) -> str:
    """The folder of an instance's released versions, as `docusaurus docs:version` names it."""
    return "versioned_docs" if plugin_id == DEFAULT_ID else f"{plugin_id}_versioned_docs"


def _under(base: str, path: str) -> str:
    return link_forms.route_base_path(f"{base}/{path}") if path else base


def _entry(entry: Any) -> tuple[Any, Any]:
    """(name, options) of a preset or plugin entry: `'name'`, `['name', {...}]`, or something computed."""
    if entry is False or entry is None or entry is UNDEFINED:
        return None, None  # Docusaurus skips falsy entries
    if isinstance(entry, str):
        return entry, UNDEFINED
    if isinstance(entry, list) and entry and isinstance(entry[0], Spread):
        return entry[0].computed, None
    if isinstance(entry, list) and entry:
        name = entry[0]
        if isinstance(name, Function):
            return None, None  # a plugin written in the config: not a docs instance
        options = entry[1] if len(entry) > 1 else UNDEFINED
        return (name, options) if isinstance(name, (str, Computed)) else (None, None)
    if isinstance(entry, Function):
        return None, None
    if isinstance(entry, Spread):
        return entry.computed, None
    if isinstance(entry, Computed):
        return entry, None
    return None, None


def _shown(value: Any) -> str:
    if isinstance(value, Computed):
        return value.describe()
    if value is UNDEFINED:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
