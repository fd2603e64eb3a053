"""Bash completion for the ``sim`` command: ``eval "$(sim completion bash)"``.

Hydra's own ``--shell-completion`` expects the program to be the Hydra app itself; ``sim`` has
subcommands, so its script calls ``sim completion query``, which completes the command names, and
after ``sim run`` hands the rest of the line to Hydra's completer (config groups and their options,
keys of the composed config, file names after ``key=./``).
"""
from __future__ import annotations

import os
import sys

COMMANDS = ("run", "resume", "fork", "experiment", "calibrate", "report", "bench", "validate", "completion", "--version", "--help")
VALIDATIONS = ("aiyagari", "hark", "merton")

BASH_SCRIPT = """\
# bash completion for sim; install with: eval "$(sim completion bash)" (e.g. in ~/.bashrc)
_sim_completion()
{
    local choices
    choices=$(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" sim completion query 2>/dev/null)
    COMPREPLY=($(compgen -W "$choices" -- "${COMP_WORDS[COMP_CWORD]}"))
}
# Hydra overrides are key=value words: '=' must not split them
COMP_WORDBREAKS=${COMP_WORDBREAKS//=}
complete -o nospace -o default -F _sim_completion sim
"""


def run_overrides(line: str) -> list[str]:
    """Hydra's completions for the overrides typed after ``sim run``."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.core_plugins.bash_completion import BashCompletion
    from hydra._internal.utils import create_config_search_path

    from sim.config import CONF_DIR

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))
    return BashCompletion(loader)._query(config_name="config", line=line)


def candidates(line: str) -> list[str]:
    """Completions for the command line typed so far (the text before the cursor)."""
    words = line.split()
    new_word = not line or line[-1].isspace()
    typed = len(words) - (0 if new_word else 1)  # words complete before the one being typed
    if typed <= 1:
        return list(COMMANDS)
    command = words[1]
    if command == "run":
        rest = line.split(None, 2)[2] if len(words) > 2 else ""
        return run_overrides(rest)
    if command == "validate" and typed == 2:
        return list(VALIDATIONS)
    if command == "completion" and typed == 2:
        return ["bash"]
    return []  # run directories: the shell's own file-name completion (-o default)


def main(args: list[str]) -> int:
    if args == ["bash"]:
        print(BASH_SCRIPT, end="")
        return 0
    if args == ["query"]:  # called by the script, with the shell's COMP_LINE and COMP_POINT
        line = os.environ.get("COMP_LINE", "")
        line = line[: int(os.environ.get("COMP_POINT", len(line)))]
        print("\n".join(candidates(line)))
        return 0
    print("usage: sim completion bash   (then: eval \"$(sim completion bash)\", e.g. in ~/.bashrc)",
          file=sys.stderr)
    return 2
