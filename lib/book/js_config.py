"""The value a JavaScript or TypeScript config file exports, read without running it.

Read: object and array literals (spreads, shorthand, quoted and number keys; a conditional spread such as
`...(id && {gtag: ...})` leaves unknown only the keys it may add), strings, template literals whose `${}` are
names of known strings or numbers, `+` joining known strings, numbers, `true`/`false`/`null`/`undefined`,
parentheses, TypeScript's type annotations, `as`, `satisfies` and `!`; names bound by `const`/`let`/`var`,
function declarations and imports; member access into what is known; `require()` or `import` of a local file
(its exports) or a JSON file; `require.resolve('x')`, taken as the name `'x'`; `module.exports =`,
`exports.x =`, `export default`, `export const`; `delete a.b` and `a.b = value` statements; an exported
function, called with no argument, up to the value it returns.

Anything else (a call, an operator, `process.env`, a name imported from a package, a function's parameter) is
a `Computed` value that says what it was and on which line. A statement that may change a known object in a
way not followed here (`config.plugins.push(x)`, `Object.assign(config, ...)`, an `if` that assigns) turns
what it touches into a Computed value. Nothing is run: the reader never guesses, it says what it can't read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from attrs import define, frozen

MODULE_EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".json")
_MUTATING_METHODS = frozenset(("push", "unshift", "splice", "pop", "shift", "sort", "reverse", "fill", "copyWithin"))
_STATEMENT_WORDS = frozenset((
    "const", "let", "var", "function", "class", "import", "export", "module", "exports", "if", "for", "while",
    "do", "return", "delete", "try", "throw", "switch", "async", "type", "interface", "declare", "enum",
))
_REGEX_AFTER_WORDS = frozenset((
    "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "instanceof", "yield", "await",
))
_PUNCTUATORS = sorted((
    ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=",
    "=>", "?.", "??", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=",
    "^=", "**", "<<", ">>", "{", "}", "(", ")", "[", "]", ";", ",", "<", ">", "+", "-", "*", "/", "%", "&", "|",
    "^", "!", "~", "?", ":", "=", ".", "@", "#",
), key=len, reverse=True)
_ASSIGNMENTS = frozenset(("=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=", "&&=", "||=", "??="))
_OPENING = {"(": ")", "[": "]", "{": "}"}
_CLOSING = frozenset((")", "]", "}"))
_ENDS = frozenset((",", ";", ")", "]", "}"))
# After these, a TypeScript type is still to come: `: {`, `| {`, `=> {`, `keyof (`...
_TYPE_OPERATORS = frozenset((":", "|", "&", "=>", ",", "<", "(", "[", "?", "="))
_TYPE_WORDS = frozenset(("keyof", "typeof", "extends", "infer", "is", "readonly", "new", "unique", "asserts"))
_SUBSTITUTION = re.compile(r"\$\{\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\}")
_NAME = re.compile(r"[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*")
_NUMBER = re.compile(r"0[xX][\da-fA-F_]+n?|0[oO][0-7_]+n?|0[bB][01_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?n?")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _type_expected(previous: _Token) -> bool:
    """Whether a TypeScript type still has to come after this token (an operator, or a word such as keyof)."""
    return previous.value in _TYPE_OPERATORS if previous.kind == "punct" else previous.value in _TYPE_WORDS


class JsSyntaxError(ValueError):
    """Raised when a config file can't even be cut into tokens (an unclosed string or comment)."""


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


@frozen
class Computed:
    """A value this reader can't know without running the file: what the file says, and where."""

    text: str
    file: str
    line: int

    def where(self) -> str:
        return f"{self.file} line {self.line}"

    def describe(self) -> str:
        quoted = f"`{self.text}`" if "`" not in self.text else f"<{self.text}>"  # a template literal shows its own
        return f"{quoted} ({self.where()})"


class JsObject(dict):
    """An object literal's known properties; `unknown` stands for properties that may exist but can't be read."""

    def __init__(self, *args, unknown: Computed | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.unknown = unknown


@frozen
class Spread:
    """Array elements that can't be read: `...something` whose value is computed."""

    computed: Computed


@define
class Function:
    """A function found in the file: callable here only when it ignores its parameters."""

    reader: "_Reader"
    params: list[str]
    body: int  # index of the body's first token: `{` of a block, or an arrow's expression
    line: int
    text: str

    def call(self) -> Any:
        scope = _Scope(self.reader.scope)
        for name in self.params:
            scope.bind(name, Computed(f"parameter {name}", self.reader.file_name, self.line))
        return self.reader.call(self, scope)


def read_config(path: Path) -> Any:
    """The value the file exports (`export default`, else `module.exports`), an exported function called."""
    module = _Module.load(Path(path), loading=set())
    value = module.exported()
    if isinstance(value, Function):
        value = value.call()
    return value


def member(value: Any, key: str | int) -> Any:
    """`value[key]` as far as it is known: a Computed value for what can't be read, UNDEFINED for what is absent."""
    if isinstance(value, Computed):
        return Computed(f"{value.text}.{key}", value.file, value.line)
    if isinstance(value, JsObject):
        if key in value:
            return value[key]
        return value.unknown if value.unknown is not None else UNDEFINED
    if isinstance(value, list) and isinstance(key, int):
        known = value[:key + 1]
        spread = next((item for item in known if isinstance(item, Spread)), None)
        if spread is not None:
            return spread.computed
        return value[key] if 0 <= key < len(value) else UNDEFINED
    if isinstance(value, Function):
        return Computed(f"{value.text}.{key}", value.reader.file_name, value.line)
    return UNDEFINED


# ------------------------------------------------------------------ tokens


@frozen
class _Token:
    kind: str  # name, string, number, template, regex, punct, eof
    value: Any
    start: int
    end: int
    line: int
    newline_before: bool


def _tokens(source: str, file_name: str) -> list[_Token]:
    tokens: list[_Token] = []
    position, line, newline = 0, 1, False
    length = len(source)

    def add(kind: str, value: Any, start: int, end: int) -> None:
        nonlocal newline
        tokens.append(_Token(kind, value, start, end, line, newline))
        newline = False

    while position < length:
        char = source[position]
        if char == "\n":
            line += 1
            newline = True
            position += 1
        elif char.isspace():
            position += 1
        elif source.startswith("//", position) or (position == 0 and source.startswith("#!")):
            end = source.find("\n", position)
            position = length if end < 0 else end
        elif source.startswith("/*", position):
            end = source.find("*/", position + 2)
            if end < 0:
                raise JsSyntaxError(f"{file_name} line {line}: a /* comment is never closed")
            line += source.count("\n", position, end)
            newline = newline or "\n" in source[position:end]
            position = end + 2
        elif char in "'\"":
            value, end = _string(source, position, file_name, line)
            add("string", value, position, end)
            line += source.count("\n", position, end)
            position = end
        elif char == "`":
            value, end = _template(source, position, file_name, line)
            add("template", value, position, end)
            line += source.count("\n", position, end)
            position = end
        elif char.isdigit() or (char == "." and position + 1 < length and source[position + 1].isdigit()):
            match = _NUMBER.match(source, position)
            add("number", _number(match.group()), position, match.end())
            position = match.end()
        elif _NAME.match(source, position):
            match = _NAME.match(source, position)
            add("name", match.group(), position, match.end())
            position = match.end()
        elif char == "/" and _regex_allowed(tokens):
            end = _regex_end(source, position, file_name, line)
            add("regex", source[position:end], position, end)
            position = end
        else:
            punct = next((p for p in _PUNCTUATORS if source.startswith(p, position)), char)
            add("punct", punct, position, position + len(punct))
            position += len(punct)
    tokens.append(_Token("eof", None, length, length, line, True))
    return tokens


def _regex_allowed(tokens: list[_Token]) -> bool:
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "punct":
        return last.value not in (")", "]", "}")
    return last.kind == "name" and last.value in _REGEX_AFTER_WORDS


def _regex_end(source: str, position: int, file_name: str, line: int) -> int:
    index, in_class = position + 1, False
    while index < len(source) and source[index] != "\n":
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            index += 1
            while index < len(source) and (source[index].isalnum() or source[index] == "_"):
                index += 1
            return index
        index += 1
    raise JsSyntaxError(f"{file_name} line {line}: a regular expression is never closed")


def _string(source: str, position: int, file_name: str, line: int) -> tuple[str, int]:
    quote = source[position]
    parts: list[str] = []
    index = position + 1
    while index < len(source):
        char = source[index]
        if char == quote:
            return "".join(parts), index + 1
        if char == "\n":
            break
        if char == "\\":
            escaped, index = _escape(source, index)
            parts.append(escaped)
            continue
        parts.append(char)
        index += 1
    raise JsSyntaxError(f"{file_name} line {line}: a string is never closed")


def _escape(source: str, index: int) -> tuple[str, int]:
    """The character of the escape at `index` (a backslash), and the index after it."""
    char = source[index + 1] if index + 1 < len(source) else ""
    if char == "u" and source.startswith("{", index + 2):
        end = source.index("}", index + 3)
        return chr(int(source[index + 3:end], 16)), end + 1
    if char == "u":
        return chr(int(source[index + 2:index + 6], 16)), index + 6
    if char == "x":
        return chr(int(source[index + 2:index + 4], 16)), index + 4
    if char == "\r" and source.startswith("\n", index + 2):
        return "", index + 3
    if char == "\n":
        return "", index + 2
    return _ESCAPES.get(char, char), index + 2


def _template(source: str, position: int, file_name: str, line: int) -> tuple[str | None, int]:
    """(the text, or None when it has a `${}`), and the index after the closing backtick."""
    parts: list[str] = []
    substituted = False
    index = position + 1
    while index < len(source):
        char = source[index]
        if char == "`":
            return (None if substituted else "".join(parts)), index + 1
        if char == "\\":
            escaped, index = _escape(source, index)
            parts.append(escaped)
            continue
        if source.startswith("${", index):
            substituted = True
            index = _substitution_end(source, index + 2, file_name, line)
            continue
        parts.append(char)
        index += 1
    raise JsSyntaxError(f"{file_name} line {line}: a template literal is never closed")


def _substitution_end(source: str, index: int, file_name: str, line: int) -> int:
    depth = 1
    while index < len(source):
        char = source[index]
        if char in "'\"":
            index = _string(source, index, file_name, line)[1]
            continue
        if char == "`":
            index = _template(source, index, file_name, line)[1]
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise JsSyntaxError(f"{file_name} line {line}: a template literal's ${{ is never closed")


def _number(text: str) -> int | float:
    text = text.replace("_", "").rstrip("n")
    lowered = text.lower()
    if lowered.startswith(("0x", "0o", "0b")):
        return int(text, 0)
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in lowered else number


# ------------------------------------------------------------------ modules


class _Scope:
    def __init__(self, parent: _Scope | None = None):
        self.parent = parent
        self.names: dict[str, Any] = {}

    def bind(self, name: str, value: Any) -> None:
        self.names[name] = value

    def find(self, name: str) -> tuple[bool, Any]:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return True, scope.names[name]
            scope = scope.parent
        return False, None


class _Module:
    """One file: its tokens, its top-level names, and what it exports."""

    def __init__(self, path: Path, loading: set[Path]):
        self.path = path
        self.loading = loading
        self.named = JsObject()  # ES named exports, and CommonJS `exports.x`
        self.default: Any = UNDEFINED
        self.commonjs: Any = UNDEFINED  # what `module.exports =` was given

    @classmethod
    def load(cls, path: Path, loading: set[Path]) -> "_Module":
        module = cls(path, loading)
        if path.suffix == ".json":
            module.commonjs = _from_json(json.loads(path.read_text(encoding="utf-8")))
            return module
        source = path.read_text(encoding="utf-8")
        reader = _Reader(module, source, _tokens(source, path.name))
        loading.add(path)
        try:
            reader.run_module()
        finally:
            loading.discard(path)
        return module

    def exported(self) -> Any:
        """What a config loader takes from the file: the default export, else module.exports."""
        if self.default is not UNDEFINED:
            return self.default
        if self.commonjs is not UNDEFINED:
            return self.commonjs
        return self.named if self.named else UNDEFINED

    def required(self) -> Any:
        """What `require()` of the file gives (with the default export unwrapped, as Docusaurus' loader does)."""
        if self.commonjs is not UNDEFINED:
            return self.commonjs
        return self.default if self.default is not UNDEFINED else self.named


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return JsObject({key: _from_json(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return value


def _changed_in_place(value: Any, changed: Computed) -> bool:
    """Make an object or array unreadable where it is, for every place that holds it; False for other values."""
    if isinstance(value, JsObject):
        value.clear()
        value.unknown = changed
        return True
    if isinstance(value, list):
        value[:] = [Spread(changed)]
        return True
    return False


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


class _Reader:
    """Reads the statements of one module, binding names and filling its exports."""

    def __init__(self, module: _Module, source: str, tokens: list[_Token]):
        self.module = module
        self.source = source
        self.tokens = tokens
        self.file_name = module.path.name
        self.scope = _Scope()
        self.index = 0

    # ---- helpers

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def at(self, value: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind in ("punct", "name") and token.value == value

    def next(self) -> _Token:
        token = self.peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def expect(self, value: str) -> None:
        token = self.next()
        if token.value != value:
            raise JsSyntaxError(f"{self.file_name} line {token.line}: expected {value!r}, found {token.value!r}")

    def text(self, start: int, end: int) -> str:
        if end <= start:
            return ""
        text = " ".join(self.source[self.tokens[start].start:self.tokens[end - 1].end].split())
        return text if len(text) <= 100 else text[:97] + "..."

    def computed(self, start: int, end: int | None = None) -> Computed:
        end = self.index if end is None else end
        return Computed(self.text(start, end) or "?", self.file_name, self.tokens[start].line)

    def matching(self, index: int) -> int:
        """The index after the bracket that closes the one at `index`."""
        depth = 0
        while self.tokens[index].kind != "eof":
            token = self.tokens[index]
            if token.kind == "punct" and token.value in _OPENING:
                depth += 1
            elif token.kind == "punct" and token.value in _CLOSING:
                depth -= 1
                if depth == 0:
                    return index + 1
            index += 1
        raise JsSyntaxError(f"{self.file_name}: a bracket opened on line {self.peek().line} is never closed")

    def skip_expression(self, *, top: bool = False, also: frozenset = frozenset()) -> None:
        """Move past one expression: to the next `,` `;` or closing bracket at this depth (and `also`)."""
        first = True
        while True:
            token = self.peek()
            if token.kind == "eof":
                return
            if token.kind == "punct":
                if token.value in _ENDS or token.value in also:
                    return
                if token.value in _OPENING:
                    self.index = self.matching(self.index)
                    first = False
                    continue
            if top and not first and token.newline_before and token.kind == "name" and token.value in _STATEMENT_WORDS:
                return
            self.next()
            first = False

    def skip_type(self, *, until: frozenset = frozenset()) -> None:
        """Move past a TypeScript type, which may hold `<...>` and brackets.

        A bracket of `until` ends the type once a type is complete (`): string {` before a body, `<T> (` before
        parameters); where a type is still expected it opens one (`: {a: string}`)."""
        angle = 0
        start = self.index
        while True:
            token = self.peek()
            if token.kind == "eof":
                return
            if token.kind == "punct":
                if angle == 0 and token.value in until and self.index > start and not _type_expected(self.tokens[self.index - 1]):
                    return
                if token.value in _OPENING:
                    self.index = self.matching(self.index)
                    continue
                if token.value == "<":
                    angle += 1
                elif token.value == ">" and angle:
                    angle -= 1
                elif token.value in (">>", ">>>") and angle:
                    angle = max(0, angle - len(token.value))
                elif angle == 0 and (token.value in _ENDS or token.value in until or token.value in _ASSIGNMENTS):
                    return
                elif angle == 0 and token.value == "=>":
                    self.next()  # a function type: its result type follows
                    continue
            elif angle == 0 and token.newline_before and token.value in _STATEMENT_WORDS:
                return
            self.next()

    # ---- statements

    def run_module(self) -> None:
        self.hoist(0, len(self.tokens) - 1, self.scope)
        try:
            while self.peek().kind != "eof":
                self.step(self.scope)
        except _Return:
            pass  # a top-level return: not JavaScript, and nothing after it counts

    def step(self, scope: _Scope) -> None:
        """One statement; a token no statement can start with is passed over."""
        before = self.index
        self.statement(scope)
        if self.index == before:
            self.next()

    def call(self, function: Function, scope: _Scope) -> Any:
        saved_index, saved_scope = self.index, self.scope
        self.index, self.scope = function.body, scope
        try:
            if not self.at("{"):
                return self.expression()
            end = self.matching(self.index) - 1
            self.next()
            self.hoist(self.index, end, scope)
            try:
                while self.index < end:
                    self.step(scope)
            except _Return as returned:
                return returned.value
            return UNDEFINED
        finally:
            self.index, self.scope = saved_index, saved_scope

    def hoist(self, start: int, end: int, scope: _Scope) -> None:
        """Bind the function declarations of a block before its statements run, as JavaScript does."""
        saved = self.index
        index, depth = start, 0
        while index < end:
            token = self.tokens[index]
            if token.kind == "punct" and token.value in _OPENING:
                depth += 1
            elif token.kind == "punct" and token.value in _CLOSING:
                depth -= 1
            elif depth == 0 and token.kind == "name" and token.value == "function" and self.tokens[index + 1].kind == "name":
                self.index = index
                function = self.function_expression()
                scope.bind(self.tokens[index + 1].value, function)
                index = self.index
                continue
            index += 1
        self.index = saved

    def statement(self, scope: _Scope) -> None:
        token = self.peek()
        start = self.index
        if token.kind == "punct" and token.value == ";":
            self.next()
            return
        word = token.value if token.kind == "name" else None
        if word == "import" and not self.at("(", 1) and not self.at(".", 1):
            self.import_statement(scope)
        elif word == "export":
            self.export_statement(scope)
        elif word in ("const", "let", "var"):
            self.next()
            self.declarations(scope)
        elif word == "function" or (word == "async" and self.at("function", 1)):
            self.skip_function_declaration()
        elif word == "return":
            self.next()
            value = UNDEFINED if self.peek().value in (";", "}") or self.peek().newline_before else self.expression()
            raise _Return(value)
        elif word == "delete" and self.member_path(self.index + 1) is not None:
            self.next()
            self.delete(scope, start)
        elif word in ("type", "interface", "declare", "enum") and self.peek(1).kind == "name" and not self.peek(1).newline_before:
            self.skip_typescript()
        elif word is not None and self.assignment_ahead():
            self.assign(scope, start)
        else:
            self.skip_statement()
            self.taint(start, self.index, scope)
        self.end_statement()

    def end_statement(self) -> None:
        if self.at(";"):
            self.next()

    def skip_statement(self) -> None:
        token = self.peek()
        word = token.value if token.kind == "name" else None
        if token.kind == "punct" and token.value == "{":
            self.index = self.matching(self.index)
        elif word in ("if", "for", "while", "with", "switch"):
            self.next()
            if self.at("await"):
                self.next()
            if self.at("("):
                self.index = self.matching(self.index)
            if word == "switch":
                self.index = self.matching(self.index)
                return
            self.skip_statement()
            self.end_statement()
            if word == "if" and self.at("else"):
                self.next()
                self.skip_statement()
        elif word == "try":
            self.next()
            self.index = self.matching(self.index)
            while self.at("catch") or self.at("finally"):
                self.next()
                if self.at("("):
                    self.index = self.matching(self.index)
                self.index = self.matching(self.index)
        elif word == "do":
            self.next()
            self.skip_statement()
            self.end_statement()
            if self.at("while"):
                self.next()
                self.index = self.matching(self.index)
        elif word == "class":
            self.next()
            while not self.at("{") and self.peek().kind != "eof":
                self.next()
            self.index = self.matching(self.index)
        else:
            self.skip_expression(top=True)
            while self.at(","):
                self.next()
                self.skip_expression(top=True)

    def skip_function_declaration(self) -> None:
        """Its name was bound when its block was hoisted: move past it."""
        self.function_expression()

    def skip_typescript(self) -> None:
        word = self.next().value
        if word == "declare":
            self.skip_statement()
            return
        self.next()  # the name
        if word in ("interface", "enum"):
            while not self.at("{") and self.peek().kind != "eof":
                self.next()
            self.index = self.matching(self.index)
            return
        if self.at("<"):
            self.skip_type(until=frozenset(("=",)))
        if self.at("="):
            self.next()
        self.skip_type()

    def specifiers(self) -> list[tuple[str, str]]:
        """`a, b as c, type d }` after an import's or export's `{`: (name, alias) pairs, read past the `}`."""
        pairs = []
        while not self.at("}"):
            if self.at("type") and self.peek(1).kind == "name" and not self.at("as", 1):
                self.next()
            name = self.next()
            if name.kind == "eof":
                raise JsSyntaxError(f"{self.file_name} line {name.line}: expected '}}', found the end of the file")
            alias = name.value
            if self.at("as"):
                self.next()
                alias = self.next().value
            pairs.append((name.value, alias))
            if self.at(","):
                self.next()
        self.next()
        return pairs

    def import_statement(self, scope: _Scope) -> None:
        start = self.index
        self.next()
        if self.at("type") and not self.at("from", 1) and not self.at(",", 1):
            self.skip_expression(top=True)
            return
        bindings: list[tuple[str, str]] = []  # (local name, what it imports: "default", "*" or a name)
        if self.peek().kind == "string":
            self.next()
            return
        while not self.at("from") and self.peek().kind != "eof":
            token = self.next()
            if token.kind == "name":
                bindings.append((token.value, "default"))
            elif token.value == "*":
                self.expect("as")
                bindings.append((self.next().value, "*"))
            elif token.value == "{":
                bindings.extend((local, imported) for imported, local in self.specifiers())
        self.expect("from")
        specifier = self.next().value
        module = self.local_module(specifier)
        for local, imported in bindings:
            if isinstance(module, Computed):
                scope.bind(local, Computed(f"{local}, imported from {specifier!r}", self.file_name, self.tokens[start].line))
            elif imported == "*":
                scope.bind(local, JsObject(module.named, default=module.exported()))
            elif imported == "default":
                scope.bind(local, module.exported())
            else:
                scope.bind(local, member(module.named, imported))

    def local_module(self, specifier: str) -> _Module | Computed:
        line = self.peek().line
        if not specifier.startswith((".", "/")):
            return Computed(f"the package {specifier!r}", self.file_name, line)
        base = (self.module.path.parent / specifier).resolve()
        candidates = [base] + [base.with_name(base.name + extension) for extension in MODULE_EXTENSIONS]
        path = next((candidate for candidate in candidates if candidate.is_file()), None)
        if path is None:
            return Computed(f"{specifier!r}, a file not found", self.file_name, line)
        if path in self.module.loading:
            return Computed(f"{specifier!r}, which requires this file in turn", self.file_name, line)
        return _Module.load(path, self.module.loading)

    def export_statement(self, scope: _Scope) -> None:
        self.next()
        if self.at("default"):
            self.next()
            if self.at("function") or (self.at("async") and self.at("function", 1)):
                function = self.function_expression()
                self.module.default = function
                return
            self.module.default = self.expression()
            return
        if self.at("type") or self.at("interface"):
            self.skip_typescript()
            return
        if self.at("const") or self.at("let") or self.at("var"):
            self.next()
            for name in self.declarations(scope):
                self.module.named[name] = scope.find(name)[1]
            return
        if self.at("function") or (self.at("async") and self.at("function", 1)):
            name_index = self.index + (2 if self.at("async") else 1)
            function = self.function_expression()
            self.module.named[self.tokens[name_index].value] = function
            return
        if self.at("{"):
            self.next()
            pairs = self.specifiers()
            if self.at("from"):
                self.next()
                self.next()
                return
            for local, exported in pairs:
                value = scope.find(local)[1] if scope.find(local)[0] else UNDEFINED
                if exported == "default":
                    self.module.default = value
                else:
                    self.module.named[exported] = value
            return
        self.skip_statement()

    def declarations(self, scope: _Scope) -> list[str]:
        """`a = 1, {b} = c` after const/let/var: bind each name; return the names."""
        names: list[str] = []
        while True:
            start = self.index
            if self.at("{") or self.at("["):
                pattern_end = self.matching(self.index)
                pattern = self.pattern_names(self.index + 1, pattern_end - 1)
                self.index = pattern_end
                if self.at(":"):
                    self.next()
                    self.skip_type()
                value = UNDEFINED
                if self.at("="):
                    self.next()
                    value = self.expression()
                for local, key in pattern:
                    if isinstance(value, JsObject) and key is not None:
                        scope.bind(local, member(value, key))
                    else:
                        scope.bind(local, self.computed(start))
                    names.append(local)
            else:
                name = self.next().value
                if self.at("!"):
                    self.next()
                if self.at(":"):
                    self.next()
                    self.skip_type()
                value = UNDEFINED
                if self.at("="):
                    self.next()
                    value = self.expression()
                scope.bind(name, value)
                names.append(name)
            if not self.at(","):
                return names
            self.next()

    def pattern_names(self, start: int, end: int) -> list[tuple[str, str | None]]:
        """The names a destructuring pattern binds, each with the key it reads (None: can't say)."""
        found: list[tuple[str, str | None]] = []
        index, depth = start, 0
        while index < end:
            token = self.tokens[index]
            if token.kind == "punct" and token.value in _OPENING:
                depth += 1
            elif token.kind == "punct" and token.value in _CLOSING:
                depth -= 1
            elif token.kind == "name" and depth == 0:
                following = self.tokens[index + 1]
                previous = self.tokens[index - 1]
                if following.value == ":":
                    index += 2
                    target = self.tokens[index]
                    if target.kind == "name":
                        found.append((target.value, token.value))
                    continue
                if previous.value != "=":
                    found.append((token.value, token.value if previous.value != "..." else None))
            index += 1
        return found

    def assignment_ahead(self) -> bool:
        path = self.member_path(self.index)
        if path is None:
            return False
        _, end = path
        return self.tokens[end].kind == "punct" and self.tokens[end].value == "="

    def member_path(self, index: int) -> tuple[list[str], int] | None:
        """`a.b['c']` from `index`: (["a", "b", "c"], index after it); None when it is not such a path."""
        token = self.tokens[index]
        if token.kind != "name":
            return None
        path = [token.value]
        index += 1
        while True:
            token = self.tokens[index]
            if token.kind == "punct" and token.value == "." and self.tokens[index + 1].kind == "name":
                path.append(self.tokens[index + 1].value)
                index += 2
            elif (token.kind == "punct" and token.value == "[" and self.tokens[index + 1].kind in ("string", "number")
                  and self.tokens[index + 2].value == "]"):
                path.append(self.tokens[index + 1].value)
                index += 3
            else:
                return path, index

    def target(self, path: list[str], scope: _Scope) -> tuple[Any, Any] | None:
        """(the object holding the path's last key, that key), when the path leads into a known object."""
        name, keys = path[0], path[1:]
        if name == "module" and keys[:1] == ["exports"]:
            if len(keys) == 1:
                return self.module, "commonjs"
            holder, keys = self.module.named, keys[1:]
        elif name == "exports" and not scope.find("exports")[0]:
            holder = self.module.named
        else:
            found, holder = scope.find(name)
            if not found:
                return None
        if not keys:
            return None
        for key in keys[:-1]:
            holder = member(holder, key)
        return holder, keys[-1]

    def assign(self, scope: _Scope, start: int) -> None:
        path, end = self.member_path(self.index)
        self.index = end + 1
        value = self.expression()
        if len(path) == 1:
            found, _ = scope.find(path[0])
            if found:
                scope.bind(path[0], value)
            return
        place = self.target(path, scope)
        if place is None:
            return
        holder, key = place
        if isinstance(holder, _Module):
            holder.commonjs = value
        elif isinstance(holder, JsObject):
            holder[key] = value
        elif isinstance(holder, list):
            self.taint(start, self.index, scope)

    def delete(self, scope: _Scope, start: int) -> None:
        path, end = self.member_path(self.index)
        self.index = end
        place = self.target(path, scope) if len(path) > 1 else None
        if place is not None and isinstance(place[0], JsObject):
            holder, key = place
            holder.pop(key, None)
            if holder.unknown is not None:
                holder[key] = UNDEFINED  # deleted, whatever the unknown part held

    def taint(self, start: int, end: int, scope: _Scope) -> None:
        """Mark what a statement not followed here may change: assigned, deleted, mutated or handed to a call."""
        index = start
        while index < end:
            token = self.tokens[index]
            previous = self.tokens[index - 1] if index else None
            if token.kind != "name" or (previous is not None and previous.value in (".", "?.")):
                index += 1
                continue
            path_found = self.member_path(index)
            path, after = path_found
            following = self.tokens[after]
            method = None
            if len(path) > 1 and path[-1] in _MUTATING_METHODS and following.value == "(":
                method, path = path[-1], path[:-1]
            handed = previous is not None and previous.value in ("(", ",") and following.value in (",", ")")
            changed = (
                method is not None
                or (following.kind == "punct" and following.value in _ASSIGNMENTS | {"++", "--"})
                or (previous is not None and previous.value in ("delete", "++", "--"))
                or (handed and isinstance(self.value_at(path, scope), (JsObject, list)))  # a call may change it
            )
            if changed:
                self.mark(path, scope, self.computed(start, end))
            index = after

    def value_at(self, path: list[str], scope: _Scope) -> Any:
        found, value = scope.find(path[0])
        if not found:
            return UNDEFINED
        for key in path[1:]:
            value = member(value, key)
        return value

    def mark(self, path: list[str], scope: _Scope, reason: Computed) -> None:
        changed = Computed(f"changed by: {reason.text}", reason.file, reason.line)
        if len(path) == 1:
            found, value = scope.find(path[0])
            if found and not _changed_in_place(value, changed):
                scope.bind(path[0], changed)
            return
        place = self.target(path, scope)
        if place is None:
            return
        holder, key = place
        if isinstance(holder, _Module):
            holder.commonjs = changed
        elif isinstance(holder, JsObject) and not _changed_in_place(holder.get(key), changed):
            holder[key] = changed

    # ---- expressions

    def expression(self) -> Any:
        start = self.index
        value = self.unary()
        while self.at("+") and isinstance(value, str):
            self.next()  # 'https://' + HOST: strings joined, as long as every part is known
            right = self.unary()
            if isinstance(right, bool) or not isinstance(right, (str, int)):
                self.skip_expression(top=True)
                return self.computed(start)
            value += str(right)
        while True:
            token = self.peek()
            if token.kind == "name" and token.value in ("as", "satisfies") and not token.newline_before:
                self.next()
                self.skip_type()
            elif token.kind == "punct" and token.value == "!" and not token.newline_before:
                self.next()
            else:
                break
        token = self.peek()
        if token.kind == "eof" or (token.kind == "punct" and token.value in _ENDS):
            return value
        if token.newline_before and (token.kind != "punct" or token.value in ("{", "[", "(")):
            return value  # automatic semicolon insertion; a line that starts with ( or [ is rare in configs
        self.skip_expression(top=True)
        return self.computed(start)

    def template(self, token: _Token, start: int) -> Any:
        """A template literal whose substitutions are names of known strings or numbers (`https://${HOST}`)."""
        parts = _SUBSTITUTION.split(self.source[token.start + 1: token.end - 1])
        text = []
        for position, part in enumerate(parts):
            if position % 2 == 0:
                if "\\" in part or "${" in part:
                    return self.computed(start)  # an escape, or a substitution more than a name
                text.append(part)
                continue
            value = self.value_at(part.split("."), self.scope)
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                return self.computed(start)
            text.append(str(value))
        return "".join(text)

    def unary(self) -> Any:
        start = self.index
        token = self.peek()
        if token.kind == "punct" and token.value in ("-", "+") and self.peek(1).kind == "number":
            self.next()
            number = self.next().value
            return self.postfix(-number if token.value == "-" else number, start)
        if token.kind == "name" and token.value == "await":
            self.next()
            return self.unary()
        if (token.kind == "punct" and token.value in ("!", "~", "-", "+", "++", "--")) or (
            token.kind == "name" and token.value in ("typeof", "void", "new", "delete", "yield")
        ):
            self.next()
            self.unary()
            return self.computed(start)
        return self.postfix(self.primary(), start)

    def primary(self) -> Any:
        start = self.index
        token = self.peek()
        if token.kind in ("string", "number"):
            self.next()
            return token.value
        if token.kind == "template":
            self.next()
            return token.value if token.value is not None else self.template(token, start)
        if token.kind == "regex":
            self.next()
            return self.computed(start)
        if token.kind == "punct":
            if token.value == "{":
                return self.object_literal()
            if token.value == "[":
                return self.array_literal()
            if token.value == "(":
                if self.arrow_ahead(self.index):
                    return self.function_expression()
                self.next()
                value = self.expression()
                while self.at(","):
                    self.next()
                    value = self.expression()
                self.expect(")")
                return value
            self.skip_expression()
            return self.computed(start)
        if token.kind == "name":
            word = token.value
            if word in ("true", "false"):
                self.next()
                return word == "true"
            if word == "null":
                self.next()
                return None
            if word == "undefined" and not self.scope.find("undefined")[0]:
                self.next()
                return UNDEFINED
            if word == "function" or (word == "async" and (self.at("function", 1) or self.arrow_ahead(self.index + 1))):
                return self.function_expression()
            if self.at("=>", 1):
                return self.function_expression()
            if word == "require" and self.at("(", 1) and self.peek(2).kind == "string" and self.at(")", 3):
                self.index += 4
                module = self.local_module(self.tokens[start + 2].value)
                return module.required() if isinstance(module, _Module) else module
            if word == "require" and self.at(".", 1) and self.at("resolve", 2) and self.at("(", 3) and self.peek(4).kind == "string" and self.at(")", 5):
                self.index += 6
                return self.tokens[start + 4].value
            if word == "class":
                self.skip_statement()
                return self.computed(start)
            self.next()
            found, value = self.scope.find(word)
            return value if found else Computed(word, self.file_name, token.line)
        self.next()
        return self.computed(start)

    def postfix(self, value: Any, start: int) -> Any:
        while True:
            token = self.peek()
            if token.kind != "punct" or (token.newline_before and token.value in ("(", "[")):
                return value
            if token.value in (".", "?.") and self.peek(1).kind == "name":
                self.index += 2
                value = member(value, self.tokens[self.index - 1].value)
                if isinstance(value, Computed):
                    value = self.computed(start)
            elif token.value == "?." and self.peek(1).value in ("(", "["):
                self.next()
            elif token.value == "[":
                self.next()
                key = self.expression()
                self.expect("]")
                value = member(value, key) if isinstance(key, (str, int)) and not isinstance(key, bool) else self.computed(start)
                if isinstance(value, Computed):
                    value = self.computed(start)
            elif token.value == "(":
                self.index = self.matching(self.index)
                value = self.computed(start)
            elif token.value == "<" and self.generic_call_ahead():
                self.skip_type(until=frozenset(("(",)))
            else:
                return value

    def generic_call_ahead(self) -> bool:
        """`f<T>(...)` in TypeScript: a `<` closed by `>` right before `(`."""
        index, depth = self.index, 0
        while self.tokens[index].kind != "eof" and index - self.index < 40:
            value = self.tokens[index].value
            if value == "<":
                depth += 1
            elif value == ">":
                depth -= 1
                if depth == 0:
                    return self.tokens[index + 1].value == "("
            elif value in _ENDS or value == "=":
                return False
            index += 1
        return False

    def arrow_ahead(self, index: int) -> bool:
        """A parenthesised parameter list (maybe with a return type) followed by `=>`."""
        token = self.tokens[index]
        if token.kind == "name" and self.tokens[index + 1].value == "=>":
            return True
        if token.value != "(":
            return False
        saved = self.index
        self.index = index
        try:
            self.index = self.matching(self.index)
            if self.at(":"):
                self.next()
                self.skip_type(until=frozenset(("=>",)))
            return self.at("=>")
        except JsSyntaxError:
            return False
        finally:
            self.index = saved

    def function_expression(self) -> Function:
        """A function or arrow function from the current token; the index moves past its body."""
        start = self.index
        if self.at("async"):
            self.next()
        params: list[str] = []
        declared = self.at("function")  # a return type may then hold `=>`: only its body's `{` ends it
        if declared:
            self.next()
            if self.at("*"):
                self.next()
            if self.peek().kind == "name":
                self.next()
        if self.peek().kind == "name":  # x => ...
            params.append(self.next().value)
        else:
            if self.at("<"):
                self.skip_type(until=frozenset(("(",)))
            close = self.matching(self.index)
            params = [name for name, _ in self.pattern_names(self.index + 1, close - 1)]
            self.index = close
            if self.at(":"):
                self.next()
                self.skip_type(until=frozenset(("{",) if declared else ("=>", "{")))
        arrow = self.at("=>")
        if arrow:
            self.next()
        body = self.index
        if self.at("{"):
            self.index = self.matching(self.index)
        else:
            self.skip_expression()
        return Function(self, params, body, self.tokens[start].line, self.text(start, min(start + 3, self.index)) + " ...")

    def object_literal(self) -> JsObject:
        self.expect("{")
        result = JsObject()
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise JsSyntaxError(f"{self.file_name}: an object is never closed")
            start = self.index
            if self.at("..."):
                self.next()
                either = self.conditional_objects()
                if either is not None:  # `...(cond && {a})`, `...(cond ? {a} : {})`: only `a` may change
                    for key in set().union(*either):
                        result[key] = self.computed(start)
                else:
                    spread = self.expression()
                    if isinstance(spread, JsObject):
                        if spread.unknown is not None:
                            result = JsObject(unknown=spread.unknown)
                        result.update(spread)
                    elif isinstance(spread, (Computed, Function)):
                        result = JsObject(unknown=self.computed(start))
            else:
                key = self.property_key()
                if key is None:
                    result = JsObject(unknown=self.computed(start))
                    self.skip_expression()
                elif self.at(":"):
                    self.next()
                    result[key] = self.expression()
                elif self.at("(") or self.at("<"):
                    self.index = start
                    while not self.at("(") and not self.at("<"):
                        self.next()
                    function = self.function_expression()
                    result[key] = function
                elif self.at("=") or self.at(",") or self.at("}"):
                    found, value = self.scope.find(key)
                    result[key] = value if found else Computed(key, self.file_name, self.tokens[start].line)
                    if self.at("="):
                        self.skip_expression()
                else:
                    self.skip_expression()
                    result[key] = self.computed(start)
            if self.at(","):
                self.next()
            elif not self.at("}"):
                token = self.peek()
                raise JsSyntaxError(f"{self.file_name} line {token.line}: expected , or }} in an object, found {token.value!r}")
        self.next()
        return result

    def conditional_objects(self) -> list[JsObject] | None:
        """The objects a conditional spread may give (`cond && {...}`, `cond ? {...} : {...}`, in parentheses or
        not), each fully known; None, with nothing read, for any other expression."""
        start = self.index
        parenthesised = self.at("(")
        if parenthesised:
            self.next()
        try:
            self.unary()  # the condition: its value does not matter
            if self.at("&&"):
                self.next()
                objects = [self.unary()]
            elif self.at("?"):
                self.next()
                objects = [self.unary()]
                self.expect(":")
                objects.append(self.unary())
            else:
                objects = []
            if parenthesised:
                self.expect(")")
        except JsSyntaxError:
            objects = []
        ends = self.at(",") or self.at("}")
        if objects and ends and all(isinstance(item, JsObject) and item.unknown is None for item in objects):
            return objects
        self.index = start
        return None

    def property_key(self) -> str | None:
        """The key of a property (getters, setters, async and generator methods included); None when computed."""
        while self.peek().kind == "name" and self.peek().value in ("get", "set", "async", "static") and (
            self.peek(1).kind in ("name", "string", "number") or self.at("[", 1) or self.at("*", 1)
        ):
            self.next()
        if self.at("*"):
            self.next()
        token = self.peek()
        if token.kind in ("name", "string"):
            self.next()
            return token.value
        if token.kind == "number":
            self.next()
            return str(token.value)
        if token.value == "[":
            self.next()
            key = self.expression()
            self.expect("]")
            return key if isinstance(key, str) else str(key) if isinstance(key, int) and not isinstance(key, bool) else None
        raise JsSyntaxError(f"{self.file_name} line {token.line}: can't read an object key at {token.value!r}")

    def array_literal(self) -> list:
        self.expect("[")
        result: list = []
        while not self.at("]"):
            if self.peek().kind == "eof":
                raise JsSyntaxError(f"{self.file_name}: an array is never closed")
            start = self.index
            if self.at(","):
                result.append(UNDEFINED)
                self.next()
                continue
            if self.at("..."):
                self.next()
                spread = self.expression()
                if isinstance(spread, list):
                    result.extend(spread)
                else:
                    result.append(Spread(self.computed(start)))
            else:
                result.append(self.expression())
            if self.at(","):
                self.next()
            elif not self.at("]"):
                token = self.peek()
                raise JsSyntaxError(f"{self.file_name} line {token.line}: expected , or ] in an array, found {token.value!r}")
        self.next()
        return result
