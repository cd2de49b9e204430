"""Build the Docusaurus fixture site with the real `docusaurus build`, and read a build into a manifest.

The fixture, tests/fixtures/docusaurus, is a Docusaurus 3 site of our own whose files and
headings exercise everything that decides a doc's URL and its heading anchors. Tests build
it here and compare the URLs Bookbot's ingester emits against what Docusaurus really serves.

- `build()` never builds inside the repository: Docusaurus writes `.docusaurus/` (and by
  default `build/`) next to its config, so the site is copied to a temporary folder first.
- `node_modules` comes from a cache outside the repository, one folder per sha256 of
  package-lock.json: `$BOOKBOT_NODE_CACHE/<hash>/node_modules`, by default
  `~/.cache/bookbot/docusaurus/<hash>/node_modules`. A missing one is installed with
  `npm ci` into a staging folder and renamed into place, so a killed install never leaves
  a half-filled cache.
- Node and npm are required: without them this raises SiteBuildError rather than skipping.
- `read_manifest()` turns a build folder into {URL path: canonical link, element ids, headings}.
- `built()` gives a config's build for the tests of several modules that check against the same build:
  from a cache beside node_modules (`<cache>/builds/<config>-<hash of the site's files>/`), built with
  the real `docusaurus build` the first time, and again whenever a file of the site changes.
- `versioned_site()` copies the fixture with a released version of its guide, for the versioned-site
  test; `cached_build()` builds and caches it (or any site) the same way.

Run `python -m tests.sitebuild OUT_DIR` to build every config into OUT_DIR/<name>/ and write
OUT_DIR/site-manifest-<name>.json beside each, with the time each step took.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

FIXTURE_SITE = Path(__file__).resolve().parent / "fixtures" / "docusaurus"
BASE_URL = "/base/"
"""The fixture's `baseUrl`, the same in every config."""

CONFIGS = {
    "trailing-false": "docusaurus.config.js",
    "trailing-true": "docusaurus.trailing.config.js",
    "trailing-unset": "docusaurus.unset.config.js",
}
"""Each config file of the fixture, by the name used for its manifest."""

CACHE_ENV = "BOOKBOT_NODE_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "bookbot" / "docusaurus"
INSTALL_TIMEOUT = 900.0
BUILD_TIMEOUT = 600.0
_OUTPUT_TAIL = 4000
_STALE_STAGING = 6 * 3600  # seconds after which a staging folder is taken as left by a killed install
_NOT_COPIED = ("node_modules", ".docusaurus", "build")  # left behind by someone who built in place


class SiteBuildError(RuntimeError):
    """npm or Docusaurus is missing, failed or timed out; the message ends with the tail of its output."""


def lock_hash(site: Path = FIXTURE_SITE) -> str:
    """The sha256 of the site's package-lock.json, which keys its node_modules cache."""
    return hashlib.sha256((site / "package-lock.json").read_bytes()).hexdigest()


def cache_root() -> Path:
    """Where node_modules folders are kept: $BOOKBOT_NODE_CACHE, else ~/.cache/bookbot/docusaurus."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_CACHE


def node_modules(site: Path = FIXTURE_SITE, *, timeout: float = INSTALL_TIMEOUT) -> Path:
    """Return the cached node_modules for the site's package-lock.json, running `npm ci` if it is missing."""
    key = lock_hash(site)
    target = cache_root() / key / "node_modules"
    if target.is_dir():
        return target
    npm = _tool("npm")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target.parent)
    # Staging beside the target, so that the final rename stays on one filesystem.
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json", ".npmrc"):
            if (site / name).is_file():
                shutil.copy2(site / name, staging / name)
        _run([npm, "ci", "--no-audit", "--no-fund"], cwd=staging, timeout=timeout, what="npm ci")
        try:
            (staging / "node_modules").rename(target)
        except OSError:
            if not target.is_dir():  # else another process finished the same install first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build(
    config_file: str,
    out_dir: Path,
    *,
    site: Path = FIXTURE_SITE,
    timeout: float = BUILD_TIMEOUT,
) -> Path:
    """Build the site with `config_file` (relative to the site) into `out_dir`, and return it resolved.

    Docusaurus empties `out_dir` first. The webpack persistent cache is turned off: it would
    write into the shared node_modules, and each build's copy of the site has a new path anyway.
    """
    out_dir = Path(out_dir).resolve()
    modules = node_modules(site)
    npx = _tool("npx")
    _tool("node")
    with tempfile.TemporaryDirectory(prefix="bookbot-site-") as work:
        copy = Path(work) / "site"
        shutil.copytree(site, copy, ignore=_top_level(site, _NOT_COPIED))
        (copy / "node_modules").symlink_to(modules, target_is_directory=True)
        command = [npx, "--no", "--", "docusaurus", "build", "--config", config_file, "--out-dir", str(out_dir)]
        _run(command, cwd=copy, timeout=timeout, what=f"docusaurus build --config {config_file}")
    if not (out_dir / "index.html").is_file():
        raise SiteBuildError(f"docusaurus build --config {config_file} wrote no index.html in {out_dir}")
    return out_dir


TESTED = ("trailing-false", "trailing-true") + (("trailing-unset",) if os.environ.get("BOOKBOT_SITE_BUILDS") == "all" else ())
"""The configs the tests build: unset writes what true writes (see tests/lib/book/test_site_build.py),
unless BOOKBOT_SITE_BUILDS=all."""

_BUILT: dict[str, Path] = {}


def built(name: str) -> Path:
    """The build of the config named `name` (a key of CONFIGS), from the builds cache.

    The first call of a process reads or builds every config of TESTED not built yet, at the same time: a build keeps about one
    core busy, and the tests wait on it with the other idle.
    """
    if name not in _BUILT:
        wanted = [name] + [other for other in TESTED if other != name and other not in _BUILT]
        node_modules()  # once, before the builds share it
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            for other, folder in zip(wanted, pool.map(lambda each: cached_build(each, CONFIGS[each]), wanted)):
                _BUILT[other] = folder
    return _BUILT[name]


def cached_build(name: str, config_file: str, site: Path = FIXTURE_SITE) -> Path:
    """The build of `site` with `config_file` from the builds cache, keyed by `name` and every file of the site;
    built when missing.

    Like node_modules, the build is made in a staging folder and renamed into place: a killed build leaves
    nothing that looks finished. A changed fixture, config or package-lock.json is a new key, so a new build.
    """
    target = cache_root() / "builds" / f"{name}-{site_hash(site)}"
    if (target / "index.html").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target.parent)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=target.parent))
    try:
        build(config_file, staging / "build", site=site)
        try:
            (staging / "build").rename(target)
        except OSError:
            if not (target / "index.html").is_file():  # else another process finished the same build first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def versioned_site(folder: Path) -> Path:
    """A copy of the fixture in `folder` whose guide has one release, 1.0, as `docusaurus docs:version 1.0` makes
    it: readers land on 1.0 at /base/guide, and guide-docs becomes the unreleased version at /base/guide/next.
    Release 1.0 has a section of its own, so that what is indexed tells which version it was read from."""
    shutil.copytree(FIXTURE_SITE, folder, ignore=_top_level(FIXTURE_SITE, _NOT_COPIED))
    release = folder / "guide_versioned_docs" / "version-1.0"
    shutil.copytree(folder / "guide-docs", release)
    with open(release / "01-membership.md", "a", encoding="utf-8") as page:
        page.write("\n## Only in release one\n\nThis section exists in version 1.0 alone.\n")
    (folder / "guide_versions.json").write_text('["1.0"]\n')
    sidebars = folder / "guide_versioned_sidebars"
    sidebars.mkdir()
    (sidebars / "version-1.0-sidebars.json").write_text('{"guideSidebar": [{"type": "autogenerated", "dirName": "."}]}\n')
    return folder


def site_hash(site: Path = FIXTURE_SITE) -> str:
    """The sha256 of every file of the site that a build reads (names and contents), node_modules and builds left out."""
    digest = hashlib.sha256()
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site)
        if relative.parts[0] in _NOT_COPIED or not path.is_file():
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def read_manifest(build_dir: Path, base_url: str = BASE_URL) -> dict[str, Any]:
    """Every HTML page of a build, by the URL path a static host serves it at.

    `x.html` is served at `<base_url>x` and `x/index.html` at `<base_url>x/`, percent-encoded as
    in a request. Each page has its file, its `<link rel="canonical">` (None if absent), whether
    a robots meta says noindex, its headings (level, id, text), the `#fragments` its table of
    contents links to, and every element id, in document order.
    """
    build_dir = Path(build_dir)
    base = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    pages: dict[str, Any] = {}
    for file in sorted(build_dir.rglob("*.html")):
        relative = file.relative_to(build_dir).as_posix()
        if relative == "index.html":
            served = ""
        elif relative.endswith("/index.html"):
            served = relative[: -len("index.html")]
        else:
            served = relative[: -len(".html")]
        reader = _PageReader()
        reader.feed(file.read_text(encoding="utf-8"))
        reader.close()
        pages[quote(base + served, safe="/")] = {
            "file": relative,
            "canonical": reader.canonical,
            "noindex": reader.noindex,
            "headings": reader.headings,
            "toc": reader.toc,
            "ids": reader.ids,
        }
    return {"base_url": base, "pages": pages}


class _PageReader(HTMLParser):
    """Collects the canonical link, robots noindex, headings, table of contents and element ids of one page."""

    _HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.canonical: str | None = None
        self.noindex = False
        self.ids: list[str] = []
        self.headings: list[dict[str, Any]] = []
        self.toc: list[str] = []
        self._open: dict[str, Any] | None = None
        self._hidden_depth = 0  # inside the "Direct link to" text of heading anchors

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag == "link" and "canonical" in attributes.get("rel", "").split():
            self.canonical = attributes.get("href")
        elif tag == "meta" and attributes.get("name", "").lower() == "robots":
            self.noindex = "noindex" in attributes.get("content", "").lower()
        elif tag in self._HEADINGS:
            self._open = {"level": int(tag[1]), "id": attributes.get("id"), "text": ""}
        elif tag == "a" and "table-of-contents__link" in attributes.get("class", "").split():
            href = attributes.get("href", "")
            if href.startswith("#") and href not in self.toc:  # the mobile and desktop TOCs repeat each other
                self.toc.append(href)
        if self._open is not None and tag == "a" and "hash-link" in attributes.get("class", "").split():
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == "a" and self._hidden_depth:
            self._hidden_depth -= 1
        elif self._open is not None and tag in self._HEADINGS:
            self._open["text"] = " ".join(self._open["text"].split())
            self.headings.append(self._open)
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and not self._hidden_depth:
            self._open["text"] += data


def _top_level(site: Path, names: tuple[str, ...]) -> Callable[[str, list[str]], list[str]]:
    """A copytree `ignore` that leaves out `names` at the top of the site only (a docs folder may be called build)."""

    def ignore(folder: str, entries: list[str]) -> list[str]:
        return [entry for entry in entries if entry in names] if Path(folder) == site else []

    return ignore


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SiteBuildError(f"{name} is not on PATH: building the Docusaurus fixture needs Node.js 20+ and npm")
    return path


def _run(command: list[str], *, cwd: Path, timeout: float, what: str) -> None:
    env = {
        **os.environ,
        "DOCUSAURUS_NO_PERSISTENT_CACHE": "1",
        "NO_UPDATE_NOTIFIER": "1",  # Docusaurus' CLI would otherwise ask the registry for a newer version
        "BROWSERSLIST_IGNORE_OLD_DATA": "1",
    }
    try:
        done = subprocess.run(
            command,
            check=False,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as timed_out:
        output = timed_out.output or ""
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        raise SiteBuildError(f"{what} timed out after {timeout:.0f} s in {cwd}:\n{output[-_OUTPUT_TAIL:]}") from None
    if done.returncode != 0:
        raise SiteBuildError(f"{what} exited {done.returncode} in {cwd}:\n{done.stdout[-_OUTPUT_TAIL:]}")


def _remove_stale_staging(folder: Path) -> None:
    now = time.time()
    for staging in folder.glob("staging-*"):
        try:
            if now - staging.stat().st_mtime > _STALE_STAGING:
                shutil.rmtree(staging, ignore_errors=True)
        except FileNotFoundError:
            pass


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def main(argv: list[str]) -> int:
    """Build every config into OUT_DIR/<name>/ and write OUT_DIR/site-manifest-<name>.json."""
    if len(argv) != 1:
        print("usage: python -m tests.sitebuild OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started, cpu = time.monotonic(), _children_cpu()
    modules = node_modules()
    print(f"node_modules {modules} ready in {time.monotonic() - started:.1f} s ({_children_cpu() - cpu:.1f} s CPU)")
    for name, config_file in CONFIGS.items():
        started, cpu = time.monotonic(), _children_cpu()
        built = build(config_file, out / name)
        took, took_cpu = time.monotonic() - started, _children_cpu() - cpu
        manifest = read_manifest(built)
        (out / f"site-manifest-{name}.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"{config_file}: built in {took:.1f} s ({took_cpu:.1f} s CPU), {len(manifest['pages'])} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
