"""What the docs show a reader: command lines (in shell blocks, after a ``$`` prompt or ``sudo``, and
the ``jaga ...`` synopses in inline code) and config snippets (``yaml`` blocks). tests/test_docs.py
parses and runs them; this module only finds them."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

SHELL_BLOCKS = {"", "sh", "shell", "bash", "console"}
# programs whose command lines are checked; a line in a shell block that starts with none of these is
# a diagram or output, not a command
PROGRAMS = {"jaga", "make", "python", "python3", "promtool", "systemctl", "ssh-keyscan", "ssh-keygen",
            "useradd", "install", "pip"}
OPERATORS = {"&&", "||", ";", "|"}
# values for a synopsis' placeholders; @CONFIG and @FRESH_DIR are filled in when a command runs
PLACEHOLDERS = {"NAME": "secondary", "DIR": "@FRESH_DIR", "TIME": "2030-01-01T00:00:00+00:00",
                "PREFIX": "hibah", "DAY": "2026-11-01", "F": "0.5", "FILE": "@CONFIG",
                "XLSX": "@XLSX"}


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    argv: tuple[str, ...]
    source: str          # the documented text, for failure messages

    @property
    def program(self) -> str:
        return os.path.basename(self.argv[0])

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {' '.join(self.argv)}  (from {self.source!r})"


@dataclass(frozen=True)
class Snippet:
    doc: str
    line: int
    data: object


def fenced_blocks(text: str) -> Iterator[tuple[str, int, list[str]]]:
    """(language, line number of the first body line, body lines) for every ``` block."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = lines[index].strip()
        if opening.startswith("```"):
            body_start = index + 1
            index = body_start
            while index < len(lines) and not lines[index].strip().startswith("```"):
                index += 1
            yield opening[3:].strip().lower(), body_start + 1, lines[body_start:index]
        index += 1


def inline_code(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for every `inline` span outside fenced blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            for match in re.finditer(r"`([^`]+)`", line):
                yield number, match.group(1)


def shell_commands(line: str) -> list[list[str]]:
    """The simple commands on one shell line: a ``$``/``#`` prompt, ``sudo``, comments and
    redirections dropped; split at ``&&``, ``||``, ``;`` and ``|``."""
    text = re.sub(r"^\s*[$#]\s+", "", line)
    text = re.sub(r"(^|\s)#.*$", "", text)
    # not posix: quotes stay on the tokens, so a quoted ';' is an argument, not an operator
    lexer = shlex.shlex(text, posix=False, punctuation_chars="&|;<>")
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    commands, current = [], []
    tokens_iter = iter(tokens)
    for token in tokens_iter:
        if token in OPERATORS:
            commands.append(current)
            current = []
        elif token in {">", ">>", "<", "2>"}:
            next(tokens_iter, None)
        else:
            current.append(_unquoted(token))
    commands.append(current)
    return [_without_sudo(c) for c in commands if c]


def _unquoted(token: str) -> str:
    try:
        return "".join(shlex.split(token))
    except ValueError:
        return token


def _without_sudo(argv: list[str]) -> list[str]:
    """``sudo CMD`` and ``sudo -u USER CMD`` run CMD."""
    if argv[:1] != ["sudo"]:
        return argv
    rest = argv[1:]
    if rest[:1] == ["-u"]:
        rest = rest[2:]
    return rest


def is_program(argv: list[str]) -> bool:
    return bool(argv) and os.path.basename(argv[0]) in PROGRAMS


def expand_synopsis(synopsis: str) -> list[list[str]]:
    """`jaga report [--since DAY] [--by day|watch] [--json|--csv|--xlsx FILE]` → the command without its
    optional parts, then with all of them, as often as the longest choice has alternatives (each
    alternative used at least once); placeholders filled in. A choice is between values (``--by
    day|watch``) or between options with their arguments (``--json|--xlsx FILE``)."""
    text = synopsis.replace("\\|", "|")
    required = re.sub(r"\[[^\]]*\]", " ", text).split()
    choices = [[[token] for token in alternative.split("|")] for alternative in required]
    for group in re.findall(r"\[([^\]]*)\]", text):
        parts = [part.split() for part in group.split("|")]
        if len(parts) > 1 and all(part and part[0].startswith("-") for part in parts):
            choices.append(parts)  # options to choose from, each with its own arguments
        else:
            choices += [[[token] for token in item.split("|")] for item in group.split()]
    lines = [[token for choice in choices[:len(required)] for token in choice[0]]]
    if len(choices) > len(required):
        lines += [[token for alternatives in choices for token in alternatives[i % len(alternatives)]]
                  for i in range(max(map(len, choices)))]
    return [[_fill(token) for token in argv] for argv in lines]


def _fill(token: str) -> str:
    if len(token) > 1 and token[0] == token[-1] and token[0] in "'\"":
        token = token[1:-1]  # a quoted value, as the shell passes it
    if re.fullmatch(r"[A-Z]+", token):
        if token not in PLACEHOLDERS:
            raise AssertionError(f"no value for the placeholder {token}: add it to tests/documented.py")
        return PLACEHOLDERS[token]
    return token


def commands(path: Path) -> list[Command]:
    """Every command line in shell blocks, and every command in inline code, in document order."""
    text = path.read_text()
    found = []
    for language, start, body in fenced_blocks(text):
        if language not in SHELL_BLOCKS:
            continue
        for offset, line in enumerate(body):
            for argv in shell_commands(line):
                if is_program(argv):
                    found.append(Command(path.name, start + offset, tuple(argv), line.strip()))
    for number, code in inline_code(text):
        first = shell_commands(code)
        if first and is_program(first[0]):
            if os.path.basename(first[0][0]) != "jaga":
                lines = first
            elif "[" in code:
                lines = expand_synopsis(code)
            else:  # one jaga command line, placeholders filled in
                lines = [[_fill(token) for token in first[0]]]
            for argv in lines:
                found.append(Command(path.name, number, tuple(argv), code))
    return sorted(found, key=lambda command: command.line)


def config_snippets(path: Path) -> list[Snippet]:
    """Every ``yaml`` block, loaded (a YAML error is the test's failure, not a reason to skip it)."""
    return [Snippet(path.name, start, yaml.safe_load("\n".join(body)))
            for language, start, body in fenced_blocks(path.read_text()) if language == "yaml"]
