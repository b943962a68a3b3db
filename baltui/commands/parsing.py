"""The one argument parser every baltui command uses: a usage error is one line and exit code 2.

argparse's default prints the whole usage block; a user who typed one wrong flag needs the line that
says which, and where to look (`--help`).
"""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2) instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
