"""Docusaurus' `include` and `exclude` globs, matched as its globby and micromatch match them.

Supported: `*`, `?`, `**` as a whole path segment, `[...]` classes (`[!...]` negated), `{a,b}` (nested too)
and `\\` escapes. As with micromatch's default, a wildcard never matches a name that starts with a dot.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Iterable

DEFAULT_INCLUDE = ("**/*.{md,mdx}",)
# @docusaurus/utils GlobExcludeDefault: a docs instance's `exclude` replaces it, it is not added to it.
DEFAULT_EXCLUDE = ("**/_*.{js,jsx,ts,tsx,md,mdx}", "**/_*/**", "**/*.test.{js,jsx,ts,tsx}", "**/__tests__/**")


def expand_braces(pattern: str) -> list[str]:
    """`a.{md,mdx}` -> [`a.md`, `a.mdx`]; nested braces too; a brace without a comma stays as written."""
    depth, start = 0, None
    for index, char in enumerate(pattern):
        if char == "\\":
            continue
        if char == "{" and (index == 0 or pattern[index - 1] != "\\"):
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                options = _split_options(pattern[start + 1:index])
                if len(options) < 2:
                    continue
                head, tail = pattern[:start], pattern[index + 1:]
                return [expanded for option in options for expanded in expand_braces(head + option + tail)]
    return [pattern]


def _split_options(inner: str) -> list[str]:
    options, depth, current = [], 0, ""
    for char in inner:
        if char == "," and depth == 0:
            options.append(current)
            current = ""
            continue
        depth += char == "{"
        depth -= char == "}"
        current += char
    options.append(current)
    return options


def _segment(segment: str) -> str:
    """One path segment's regex; wildcards don't match a leading dot."""
    out = "" if segment.startswith(".") else r"(?!\.)"
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "\\" and index + 1 < len(segment):
            out += re.escape(segment[index + 1])
            index += 2
            continue
        if char == "*":
            while index + 1 < len(segment) and segment[index + 1] == "*":
                index += 1
            out += r"[^/]*"
        elif char == "?":
            out += r"[^/]"
        elif char == "[" and _class_end(segment, index) is not None:
            end = _class_end(segment, index)
            body = segment[index + 1:end]
            negated = body[:1] in ("!", "^")
            body = body[1:] if negated else body
            escaped = body.replace("\\", "\\\\").replace("[", r"\[").replace("]", r"\]")
            out += "[" + ("^/" if negated else "") + escaped + "]"
            index = end
        else:
            out += re.escape(char)
        index += 1
    return out


def _class_end(segment: str, index: int) -> int | None:
    """The index of the `]` closing the class opened at `index`; a `]` first in the class is a member."""
    start = index + 1
    if segment[start:start + 1] in ("!", "^"):
        start += 1
    if segment[start:start + 1] == "]":
        start += 1
    end = segment.find("]", start)
    return end if end >= 0 else None


@functools.lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern:
    """The regex a relative posix path must fully match for the glob (braces expanded) to match it."""
    alternatives = []
    for expanded in expand_braces(pattern.removeprefix("./")):
        segments = [segment for segment in expanded.split("/") if segment]
        parts = []
        for position, segment in enumerate(segments):
            last = position == len(segments) - 1
            if segment == "**":
                parts.append(r"(?:(?!\.)[^/]+/)*(?!\.)[^/]+" if last else r"(?:(?!\.)[^/]+/)*")
            else:
                parts.append(_segment(segment) + ("" if last else "/"))
        alternatives.append("".join(parts))
    return re.compile("|".join(f"(?:{alternative})" for alternative in alternatives) or r"(?!)")


def matches(path: str, patterns: Iterable[str]) -> bool:
    return any(compile_glob(pattern).fullmatch(path) for pattern in patterns)


def select_files(root: Path, include: Iterable[str], exclude: Iterable[str]) -> tuple[list[Path], list[tuple[Path, OSError]]]:
    """The files under `root` that an include glob matches and no exclude glob does, sorted by path;
    and the folders that could not be read."""
    include, exclude = tuple(include), tuple(exclude)
    found: list[Path] = []
    unreadable: list[tuple[Path, OSError]] = []

    def failed(error: OSError) -> None:
        unreadable.append((Path(error.filename or root), error))

    for directory, folders, files in os.walk(root, onerror=failed):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        folders.sort()
        for name in files:
            path = prefix + name
            if matches(path, include) and not matches(path, exclude):
                found.append(Path(directory, name))
    found.sort(key=lambda path: path.relative_to(root).as_posix())
    return found, unreadable
