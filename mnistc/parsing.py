"""Linear-time lexing of MLIR text for every xDSL parser in the process.

xDSL 0.74 lexes a string literal with `"(?:[^"...]+|\\...)*"`: a repeated group whose
first branch is itself repeated, so on a literal that never closes the regex engine tries
every way of splitting its characters before it gives up. The time doubles with each
character (26 characters: 5 s). `LINEAR_STRING_LITERAL` accepts exactly the same
literals, but its first branch takes the whole run of plain characters at once (a
lookahead and a backreference: an atomic group that Python 3.10 also supports), so a
failed match backtracks once per escape or run, not once per split.

Importing this module installs it; the driver and `mnistc-opt` import it.
"""

from __future__ import annotations

import re

from xdsl.utils.mlir_lexer import MLIRLexer

XDSL_STRING_LITERAL = r'"(?:[^"\\\n\v\f]+|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"'
"""The pattern that xDSL 0.74 uses, kept to check that the replacement still matches it."""

LINEAR_STRING_LITERAL = re.compile(
    r'"(?:(?=([^"\\\n\v\f]+))\1|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"'
)


def guard_string_literals() -> None:
    """Lex string literals with `LINEAR_STRING_LITERAL`, if xDSL still has the pattern
    this module replaces (a later xDSL that changed it is left alone)."""
    current = MLIRLexer._unescaped_characters_regex
    if current.pattern in (XDSL_STRING_LITERAL, LINEAR_STRING_LITERAL.pattern):
        MLIRLexer._unescaped_characters_regex = LINEAR_STRING_LITERAL


guard_string_literals()
