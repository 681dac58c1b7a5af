"""Bicep tokens: identifiers, integers, strings (with ``${}`` interpolation), multi-line
strings, punctuation and the newlines that separate statements and object members.

A string token's ``parts`` alternate literal text and the tokens of each interpolation, so the
parser parses a ``${...}`` hole with the same grammar as any other expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BicepError, Position

IDENT = "IDENT"
INT = "INT"
STRING = "STRING"
NEWLINE = "NEWLINE"
EOF = "EOF"

# Two-character tokens win over one-character ones (`??` over `?`, `::` over `:`).
_PUNCTUATION = frozenset((
    "??", ".?", "[?", "==", "!=", "<=", ">=", "&&", "||", "=~", "!~", "::", "=>",
    "{", "}", "[", "]", "(", ")", ",", ":", ".", "?", "!", "<", ">", "=", "+", "-",
    "*", "/", "%", "@", "|",
))  # fmt: skip

_SPACES = re.compile(r"[ \t\r]+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN = re.compile(r"[^'\\$\n]*")  # string characters with no special meaning
_ESCAPES = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


@dataclass
class Token:
    kind: str  # IDENT, INT, STRING, NEWLINE, EOF or the punctuation itself
    text: str
    position: Position
    # STRING only: literal text (str) and interpolations (list of tokens, ending with EOF)
    parts: list[str | list[Token]] = field(default_factory=list)


class Lexer:
    def __init__(self, text: str, file: Path) -> None:
        self.text = text
        self.file = file
        self.i = 0
        self.line = 1
        self.col = 1
        self.nesting = 0  # strings inside interpolations inside strings...

    def position(self) -> Position:
        return Position(self.file, self.line, self.col)

    def error(self, message: str, position: Position | None = None) -> BicepError:
        return BicepError(message, position or self.position())

    def _advance(self, n: int = 1) -> str:
        chunk = self.text[self.i : self.i + n]
        newlines = chunk.count("\n")
        if newlines:
            self.line += newlines
            self.col = len(chunk) - chunk.rfind("\n")
        else:
            self.col += len(chunk)
        self.i += n
        return chunk

    def _peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.text[j] if j < len(self.text) else ""

    def tokens(self) -> list[Token]:
        out = self._lex(interpolation=False)
        return out

    def _lex(self, interpolation: bool) -> list[Token]:
        """Tokens up to the end of the text, or (inside ``${``) up to the balancing ``}``."""
        out: list[Token] = []
        depth = 0
        while True:
            ch = self._peek()
            if ch == "":
                if interpolation:
                    raise self.error("unterminated string interpolation: '}' expected")
                out.append(Token(EOF, "", self.position()))
                return out
            if ch in " \t\r":
                m = _SPACES.match(self.text, self.i)
                assert m is not None
                self._advance(m.end() - self.i)
                continue
            if ch == "/" and self._peek(1) == "/":
                end = self.text.find("\n", self.i)
                self._advance((len(self.text) if end < 0 else end) - self.i)
                continue
            if ch == "/" and self._peek(1) == "*":
                start = self.position()
                end = self.text.find("*/", self.i + 2)
                if end < 0:
                    raise self.error("unterminated comment: '*/' expected", start)
                self._advance(end + 2 - self.i)
                continue
            pos = self.position()
            if ch == "\n":
                self._advance()
                out.append(Token(NEWLINE, "\n", pos))
                continue
            if ch.isascii() and (ch.isalpha() or ch == "_"):
                m = _WORD.match(self.text, self.i)
                assert m is not None
                word = self._advance(m.end() - self.i)
                out.append(Token(IDENT, word, pos))
                continue
            if "0" <= ch <= "9":
                j = self.i
                while j < len(self.text) and "0" <= self.text[j] <= "9":
                    j += 1
                if (
                    j < len(self.text)
                    and self.text[j] == "."
                    and self.text[j + 1 : j + 2].isdigit()
                ):
                    raise self.error("decimal numbers are not supported in Bicep; use json('1.5')")
                out.append(Token(INT, self._advance(j - self.i), pos))
                continue
            if ch == "'":
                if self.text.startswith("'''", self.i):
                    out.append(self._multiline_string(pos))
                else:
                    out.append(self._string(pos))
                continue
            if interpolation and ch == "}" and depth == 0:
                self._advance()
                out.append(Token(EOF, "", pos))
                return out
            two = self.text[self.i : self.i + 2]
            punct = two if two in _PUNCTUATION else ch
            if punct not in _PUNCTUATION:
                raise self.error(f"unexpected character {ch!r}")
            self._advance(len(punct))
            out.append(Token(punct, punct, pos))
            if punct == "{":
                depth += 1
            elif punct == "}":
                depth -= 1

    def _string(self, start: Position) -> Token:
        begin = self.i
        self._advance()  # opening quote
        parts: list[str | list[Token]] = []
        buf: list[str] = []
        while True:
            m = _PLAIN.match(self.text, self.i)
            if m is not None and m.end() > self.i:
                buf.append(self._advance(m.end() - self.i))
            ch = self._peek()
            if ch in ("", "\n"):
                raise self.error("unterminated string: closing ' expected", start)
            if ch == "'":
                self._advance()
                break
            if ch == "\\":
                esc_pos = self.position()
                nxt = self._peek(1)
                if nxt in _ESCAPES:
                    self._advance(2)
                    buf.append(_ESCAPES[nxt])
                    continue
                if nxt == "u" and self._peek(2) == "{":
                    end = self.text.find("}", self.i)
                    code = self.text[self.i + 3 : end] if end > 0 else ""
                    try:
                        buf.append(chr(int(code, 16)))
                    except ValueError:
                        raise self.error(f"invalid unicode escape \\u{{{code}}}", esc_pos) from None
                    self._advance(end + 1 - self.i)
                    continue
                raise self.error(f"invalid escape sequence \\{nxt}", esc_pos)
            if ch == "$" and self._peek(1) == "{":
                if self.nesting >= 20:
                    raise self.error(
                        "string interpolations are nested too deeply (more than 20 levels)"
                    )
                self._advance(2)
                self.nesting += 1
                parts.append("".join(buf))
                buf = []
                inner = self._lex(interpolation=True)
                self.nesting -= 1
                if len(inner) == 1:
                    raise self.error("empty string interpolation '${}'", inner[0].position)
                parts.append(inner)
                continue
            buf.append(self._advance())
        parts.append("".join(buf))
        return Token(STRING, self.text[begin : self.i], start, parts)

    def _multiline_string(self, start: Position) -> Token:
        self._advance(3)
        end = self.text.find("'''", self.i)
        if end < 0:
            raise self.error("unterminated multi-line string: closing ''' expected", start)
        body = self._advance(end - self.i)
        self._advance(3)
        # Bicep drops a line break right after the opening quotes.
        if body.startswith("\r\n"):
            body = body[2:]
        elif body.startswith("\n"):
            body = body[1:]
        return Token(STRING, "'''", start, [body])


def tokenize(text: str, file: Path) -> list[Token]:
    return Lexer(text, file).tokens()
