"""lib/book/globs.py: include and exclude globs matched as Docusaurus (globby, micromatch) matches them."""

from __future__ import annotations

import pytest

from lib.book.globs import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    expand_braces,
    matches,
    select_files,
)
from tests.sitebuild import FIXTURE_SITE


@pytest.mark.parametrize(
    ("path", "pattern", "matched"),
    [
        ("intro.md", "**/*.{md,mdx}", True),
        ("a/b/intro.mdx", "**/*.{md,mdx}", True),
        ("a/b/intro.txt", "**/*.{md,mdx}", False),
        ("a/_partial.md", "**/_*.{js,jsx,ts,tsx,md,mdx}", True),
        ("_partials/contacts.md", "**/_*/**", True),
        ("a/_drafts/b/c.md", "**/_*/**", True),
        ("a/__tests__/x.md", "**/__tests__/**", True),
        ("notes.wip.md", "**/*.wip.md", True),
        (".hidden/x.md", "**/*.md", False),  # a wildcard never matches a leading dot
        ("a/.x.md", "**/.*.md", True),
        ("v1.md", "v[0-9].md", True),
        ("va.md", "v[!0-9].md", True),
        ("v1.md", "v[!0-9].md", False),
        ("a/b.md", "a/?.md", True),
        ("a/bc.md", "a/?.md", False),
        ("a/b.md", "*.md", False),
        ("a/b.md", "./a/*.md", True),
    ],
)
def test_matches_like_micromatch(path, pattern, matched):
    assert matches(path, [pattern]) is matched


def test_braces_expand_nested_and_leave_a_lone_brace():
    assert expand_braces("a.{md,{mdx,markdown}}") == ["a.md", "a.mdx", "a.markdown"]
    assert expand_braces("{only}.md") == ["{only}.md"]


def test_the_defaults_leave_out_partials_and_an_exclude_of_its_own_replaces_them():
    folder = FIXTURE_SITE / "handbook"
    named = lambda found: {path.relative_to(folder).as_posix() for path in found[0]}  # noqa: E731
    by_default = named(select_files(folder, DEFAULT_INCLUDE, DEFAULT_EXCLUDE))
    own = named(select_files(folder, DEFAULT_INCLUDE, ("**/*.wip.md",)))
    assert "_partials/committee.md" not in by_default and "02-planting/_frost-warning.mdx" not in by_default
    assert "03-compost/bins.wip.md" in by_default and "03-compost/bins.wip.md" not in own
    assert {"_partials/committee.md", "_partials/_contacts.md", "02-planting/_frost-warning.mdx"} <= own
