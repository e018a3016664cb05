"""A C++ tokenizer for MSL source, the rewrite's view of the text.

The rewrite (rewrite.py) must edit raw source, before the preprocessor runs, because
macro bodies hold kernel attributes and instantiations (MLX's ``instantiate_kernel``,
ggml's ``template [[host_name(...)]] kernel ...``). It works on these tokens, never on
regular expressions over the text: comments, string and character literals and line
continuations are recognised once, here, so a ``[[host_name(`` split by a ``\\``
newline, or ``float4(`` inside a comment, cannot confuse it.

Every character of the source belongs to exactly one token, so joining the tokens'
text gives the source back; whitespace (including escaped newlines) is a token too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Order matters: comments and literals before punctuation; raw strings before strings.
_TOKEN = re.compile(
    r"""
    (?P<ws>(?:[ \t\r\f\v\n]|\\\r?\n)+)
  | (?P<comment>//(?:[^\n\\]|\\(?:\r?\n|.))*|/\*.*?\*/)
  | (?P<string>(?:u8|[uUL])?R"(?P<delim>[^()\\\s]{0,16})\((?:.|\n)*?\)(?P=delim)"
              |(?:u8|[uUL])?"(?:\\(?:.|\n)|[^"\\\n])*")
  | (?P<char>(?:u8|[uUL])?'(?:\\.|[^'\\\n])*')
  | (?P<number>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.']|\\\r?\n)*)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<punct>::|->\*?|\+\+|--|<<=|>>=|<=>|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!=<>]=
              |\#\#|\.\.\.|[][(){};:,.?~!%^&*+\-=<>/|\#@$\\`])
  | (?P<other>.)
    """,
    re.S | re.X,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ws | comment | string | char | number | ident | punct | other
    text: str
    start: int
    end: int

    @property
    def code(self) -> bool:
        """True for tokens the compiler sees (not whitespace or comments)."""
        return self.kind not in ("ws", "comment")


def tokenize(text: str) -> list[Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # cannot happen: `other` matches any character
            raise ValueError(f"cannot tokenize at offset {position}")
        kind = match.lastgroup
        if kind == "delim":
            kind = "string"
        tokens.append(Token(kind, match.group(0), position, match.end()))
        position = match.end()
    return tokens


def code_indices(tokens: list[Token]) -> list[int]:
    """Indices of the tokens the compiler sees, in order."""
    return [i for i, t in enumerate(tokens) if t.code]


def matching(tokens: list[Token], code: list[int], at: int) -> int:
    """Position in `code` of the bracket closing the one at code[at] (or len(code))."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opening = tokens[code[at]].text
    closing = pairs[opening]
    depth = 0
    for k in range(at, len(code)):
        text = tokens[code[k]].text
        if text in pairs:
            depth += 1
        elif text in pairs.values():
            depth -= 1
            if depth == 0:
                return k if text == closing else len(code)
    return len(code)


def newlines_of(text: str) -> str:
    """The line breaks inside `text`, so that replacing it keeps every later line in
    place: escaped inside a macro body (a ``\\`` continuation), plain outside."""
    escaped = len(re.findall(r"\\\r?\n", text))
    plain = text.count("\n") - escaped
    return " \\\n" * escaped + "\n" * plain
