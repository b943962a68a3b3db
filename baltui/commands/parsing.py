"""The one argument parser every baltui command uses: a usage error is one line and exit code 2.

argparse's default prints the whole usage block; a user who typed one wrong flag needs the line that
says which, and where to look (`--help`). The experiment settings' flags come from the settings table
(`add_setting_flags`), so any command offers them with the same names, help and checks.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from baltui.core.settings import settings_named


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2) instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_setting_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, names: Sequence[str] | None = None,
                      defaults: dict[str, Any] | None = None) -> None:
    """One flag per setting of `names` (every setting when None), as the settings table declares it: the
    name (--batch-size for batch_size), the help with its range and the registries' names.

    A flag keeps the text given (or the value in `defaults`, None when absent, so "not given" shows);
    `setting_values` parses and checks it, so a bad value is one BaltuiError line, exit 2, like a bad preset.
    """
    for s in settings_named(names):
        default = (defaults or {}).get(s.name)
        help_text = s.flag_help() + (f" (default {default})" if default is not None else "")
        # A rule may hold a comma (plateau:5,0.002), so a list of rules is one flag per rule.
        action = "append" if s.kind == "rules" else "store"
        parser.add_argument(s.flag, dest=s.name, metavar=s.metavar, default=default, help=help_text, action=action)


def setting_values(args: argparse.Namespace, names: Sequence[str] | None = None) -> dict[str, Any]:
    """The settings of `names` the flags gave (or defaulted), parsed and checked by their rows, in the form a
    preset gives them (build_config takes them as overrides; 'all' stays 'all'); a bad value raises a
    BaltuiError saying what the setting must be (its range, or 'all')."""
    values: dict[str, Any] = {}
    for s in settings_named(names):
        raw = getattr(args, s.name, None)
        if raw is not None:
            values[s.name] = s.from_text(raw) if isinstance(raw, str) else s.parse(raw)
    return values
