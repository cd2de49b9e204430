"""The YAML front matter of a Markdown file, for the subset Docusaurus pages use.

Handled: `key: value` lines; plain, single- and double-quoted strings; booleans,
nulls, integers and floats; flow lists `[a, b]` and maps `{a: 1}`; block lists
(`- item`) and indented maps under a key; `|` and `>` block strings; comments; a
value that starts on the line after its key or goes on over several lines, as
Prettier writes long ones.
Anything else (anchors, aliases, tags, a line that is not `key: value`) is an error,
as it would be a build error in Docusaurus.
"""

from __future__ import annotations

import re
from typing import Any

_DELIMITER = re.compile(r"---[ \t]*")
_KEY = re.compile(r"(?P<key>[A-Za-z_][\w.-]*|\"[^\"]*\"|'[^']*')[ \t]*:(?:[ \t]+(?P<value>.*))?")
_BLOCK_SCALAR = re.compile(r"[|>][+-]?")
_INTEGER = re.compile(r"[-+]?(?:\d+|0x[0-9a-fA-F]+|0o[0-7]+)")
_FLOAT = re.compile(r"[-+]?(?:\.\d+|\d+(?:\.\d*)?)(?:[eE][-+]?\d+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/", " ": " ", "e": "\x1b"}


class FrontMatterError(ValueError):
    """Raised when a front matter block is not closed or holds YAML outside the supported subset."""


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter, body); a file without front matter gives ({}, text)."""
    lines = text.split("\n")
    if not lines or not _DELIMITER.fullmatch(lines[0]):
        return {}, text
    for end in range(1, len(lines)):
        if _DELIMITER.fullmatch(lines[end]):
            break
    else:
        raise FrontMatterError("front matter opened with --- on line 1 is never closed")
    data = _parse_document(lines[1:end])
    return data, "\n".join(lines[end + 1:])


def _parse_document(raw_lines: list[str]) -> dict[str, Any]:
    # (line number in the file, indentation, content) of each meaningful line
    lines = []
    for number, raw in enumerate(raw_lines, start=2):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise FrontMatterError(f"line {number}: tabs can't indent YAML")
        content = raw.strip()
        if content and not content.startswith("#"):
            lines.append((number, len(raw) - len(raw.lstrip(" ")), raw.strip()))
    if not lines:
        return {}
    if lines[0][1] != 0:
        raise FrontMatterError(f"line {lines[0][0]}: the first key must not be indented")
    value, rest = _parse_block(lines, raw_lines)
    if rest:
        raise FrontMatterError(f"line {rest[0][0]}: unexpected indentation")
    if not isinstance(value, dict):
        raise FrontMatterError(f"line {lines[0][0]}: expected `key: value`, got {lines[0][2]!r}")
    return value


def _parse_block(lines, raw_lines):
    """Parse the map or list starting at lines[0]; return (value, lines after it)."""
    if lines[0][2] == "-" or lines[0][2].startswith("- "):
        return _parse_list(lines, raw_lines)
    return _parse_map(lines, raw_lines)


def _children(lines, indent, *, list_may_align=False):
    """Split off the lines that belong under a key at `indent`."""
    end = 0
    while end < len(lines):
        _, child_indent, content = lines[end]
        nested = child_indent > indent
        aligned_item = list_may_align and child_indent == indent and (content == "-" or content.startswith("- "))
        if not (nested or aligned_item):
            break
        end += 1
    return lines[:end], lines[end:]


def _parse_map(lines, raw_lines):
    indent = lines[0][1]
    result: dict[str, Any] = {}
    while lines and lines[0][1] == indent:
        number, _, content = lines[0]
        match = _KEY.fullmatch(content)
        if match is None:
            raise FrontMatterError(f"line {number}: expected `key: value`, got {content!r}")
        key = match["key"].strip("\"'")
        if key in result:
            raise FrontMatterError(f"line {number}: key {key!r} is given twice")
        value = (match["value"] or "").strip()
        children, lines = _children(lines[1:], indent, list_may_align=not value)
        result[key] = _parse_value(value, number, children, raw_lines)
    return result, lines


def _parse_list(lines, raw_lines):
    indent = lines[0][1]
    result: list[Any] = []
    while lines and lines[0][1] == indent and (lines[0][2] == "-" or lines[0][2].startswith("- ")):
        number, _, content = lines[0]
        item = content[1:].strip()
        children, lines = _children(lines[1:], indent)
        if _KEY.fullmatch(item) and not item.startswith(("'", '"', "[", "{")):
            # `- key: value` opens a map whose keys line up with `key`
            column = indent + len(content) - len(content[1:].lstrip())
            value, rest = _parse_map([(number, column, item)] + children, raw_lines)
            if rest:
                raise FrontMatterError(f"line {rest[0][0]}: unexpected indentation")
            result.append(value)
        else:
            result.append(_parse_value(item, number, children, raw_lines))
    return result, lines


def _parse_value(value: str, number: int, children, raw_lines) -> Any:
    if _BLOCK_SCALAR.fullmatch(value):
        return _block_scalar(value, children, raw_lines)
    if not value:
        if not children:
            return None
        first = children[0][2]
        if first == "-" or first.startswith("- ") or _KEY.fullmatch(first):
            result, rest = _parse_block(children, raw_lines)
            if rest:
                raise FrontMatterError(f"line {rest[0][0]}: unexpected indentation")
            return result
        # A scalar that starts on the next line, as Prettier writes a long one
        number, value, children = children[0][0], first, children[1:]
    if children:
        # A plain or quoted string, or a flow list or map, folded over several lines
        value = " ".join([value] + [content for _, _, content in children])
    return _scalar(value, number)


def _block_scalar(indicator: str, children, raw_lines) -> str:
    if not children:
        return ""
    first, last = children[0][0], children[-1][0]
    raw = raw_lines[first - 2: last - 1]
    indent = min(len(line) - len(line.lstrip(" ")) for line in raw if line.strip())
    body = [line[indent:] for line in raw]
    if indicator[0] == "|":
        text = "\n".join(body)
    else:
        paragraphs = re.split(r"\n[ \t]*\n", "\n".join(body).strip("\n"))
        text = "\n".join(" ".join(paragraph.split("\n")) for paragraph in paragraphs)
    if indicator.endswith("-"):
        return text.rstrip("\n")
    return text.rstrip("\n") + "\n"


def _scalar(value: str, number: int) -> Any:
    if value[0] in "&*!":
        raise FrontMatterError(f"line {number}: YAML anchors, aliases and tags are not supported")
    if value[0] == '"':
        text, rest = _double_quoted(value, number)
    elif value[0] == "'":
        text, rest = _single_quoted(value, number)
    elif value[0] == "[":
        items, rest = _flow(value, number, "[", "]")
        _end(rest, number)
        return [_scalar(item, number) for item in items]
    elif value[0] == "{":
        items, rest = _flow(value, number, "{", "}")
        _end(rest, number)
        pairs = {}
        for item in items:
            match = _KEY.fullmatch(item)
            if match is None:
                raise FrontMatterError(f"line {number}: expected `key: value` in {value!r}")
            pairs[match["key"].strip("\"'")] = _scalar((match["value"] or "").strip() or "~", number)
        return pairs
    else:
        return _plain(re.sub(r"\s+#.*$", "", value))
    _end(rest, number)
    return text


def _end(rest: str, number: int) -> None:
    rest = rest.strip()
    if rest and not rest.startswith("#"):
        raise FrontMatterError(f"line {number}: unexpected {rest!r} after a value")


def _plain(value: str) -> Any:
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if _INTEGER.fullmatch(value):
        return int(value, 0) if re.match(r"[-+]?0[xo]", value) else int(value, 10)
    if _FLOAT.fullmatch(value):
        special = value.lstrip("+-").lower()
        if special in (".inf", ".nan"):
            return float(value.replace(".", "", 1))
        return float(value)
    return value


def _double_quoted(value: str, number: int) -> tuple[str, str]:
    text = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == '"':
            return "".join(text), value[index + 1:]
        if char == "\\" and index + 1 < len(value):
            code = value[index + 1]
            if code in _ESCAPES:
                text.append(_ESCAPES[code])
                index += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(code)
            digits = value[index + 2: index + 2 + width] if width else ""
            if width and re.fullmatch(r"[0-9a-fA-F]+", digits) and len(digits) == width:
                text.append(chr(int(digits, 16)))
                index += 2 + width
                continue
            raise FrontMatterError(f"line {number}: unknown escape \\{code} in a quoted string")
        text.append(char)
        index += 1
    raise FrontMatterError(f"line {number}: a quoted string is not closed")


def _single_quoted(value: str, number: int) -> tuple[str, str]:
    text = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == "'":
            if value[index + 1: index + 2] == "'":
                text.append("'")
                index += 2
                continue
            return "".join(text), value[index + 1:]
        text.append(char)
        index += 1
    raise FrontMatterError(f"line {number}: a quoted string is not closed")


def _flow(value: str, number: int, opening: str, closing: str) -> tuple[list[str], str]:
    """Split `[a, 'b, c']` into its items; return (items, text after the closing bracket)."""
    items, current, quote = [], [], None
    for index in range(1, len(value)):
        char = value[index]
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char == ",":
            items.append("".join(current).strip())
            current = []
        elif char == closing:
            last = "".join(current).strip()
            if last:  # else nothing, or a trailing comma, which YAML allows
                items.append(last)
            if any(not item for item in items):
                raise FrontMatterError(f"line {number}: an empty item in {value!r}")
            return items, value[index + 1:]
        elif char in "[{":
            raise FrontMatterError(f"line {number}: nested flow collections are not supported")
        else:
            current.append(char)
    raise FrontMatterError(f"line {number}: {opening} is never closed with {closing}")
