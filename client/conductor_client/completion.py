"""Shell completion scripts, generated from the CLI's own parser so they never fall behind it.

No dependency (argcomplete would run Python on every Tab press): the script holds, for each
command path ("", "schedules", "schedules/list", ...), the words that may come next — its
subcommands, or its options — and the choices of options that have them. bash uses it
directly; zsh through its bash-completion emulation (``bashcompinit``)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator

_FUNCTION = r"""_conductor() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path="" i w words
    # the deepest known command path among the words before the cursor (option values skipped:
    # a word is a step only if it names a subcommand of the path so far)
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case " ${_conductor_paths} " in
            *" ${path:+$path/}$w "*) path=${path:+$path/}$w ;;
        esac
    done
    words=$(_conductor_choices "$path" "$prev")
    [ -z "$words" ] && words=$(_conductor_words "$path")
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _conductor conductor"""


def _walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{path}/{name}" if path else name)


def _next_words(parser: argparse.ArgumentParser) -> list[str]:
    words: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            words += list(action.choices)
        elif not action.option_strings and action.choices:  # a positional's choices
            words += [str(c) for c in action.choices]
        else:
            words += [o for o in action.option_strings if o.startswith("--")]
    return words


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` ("bash" or "zsh")."""
    paths = list(_walk(parser, ""))
    words = [
        f"        {shlex.quote(path)}) echo {shlex.quote(' '.join(_next_words(p)))} ;;" for path, p in paths
    ]
    choices = [
        f"        {shlex.quote(path + ' ' + option)}) echo "
        f"{shlex.quote(' '.join(str(c) for c in action.choices))} ;;"
        for path, p in paths
        for action in p._actions
        if action.choices and not isinstance(action, argparse._SubParsersAction)
        for option in action.option_strings
    ]
    lines = [
        "# conductor's completion: source <(conductor completion " + shell + ")",
        *(["autoload -U +X bashcompinit && bashcompinit"] if shell == "zsh" else []),
        "_conductor_paths=" + shlex.quote(" ".join(path for path, _ in paths if path)),
        "_conductor_words() {",
        '    case "$1" in',
        *words,
        "    esac",
        "}",
        "_conductor_choices() {",
        '    case "$1 $2" in',
        *choices,
        "    esac",
        "}",
        _FUNCTION,
    ]
    return "\n".join(lines)
