"""Checks of the command line's refusals, shared by the settings and stopping-rule tests.

`tripwire` (a fixture in conftest.py) replaces data loading so a case that gets past every check raises
ReachedTheData (with the built config) instead of loading anything; `refused` asserts the one-line, exit-2
refusal and returns its line.
"""

from __future__ import annotations

from baltui import cli


class ReachedTheData(Exception):
    pass


def refused(capsys, argv: list[str]) -> str:
    """main(argv) must refuse with exit code 2 and one line; returns that line."""
    assert cli.main(["--no-ui", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("baltui: error: "), err
    return err
