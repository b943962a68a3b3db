"""How the bench marks a figure against its target: one function for every row (bench, precision, strategies).

A `--quick` run is a smoke test of the bench itself: its sizes are far below the targets' (T=10 on 200 images),
so its figures say nothing about them, and a red "not met" would send a user after a problem that is not there.
"""

from __future__ import annotations

from typing import Any

SMOKE_RUN = "smoke run (--quick), targets not checked"


def checked(figures: dict[str, Any]) -> bool:
    """Whether the figures come from sizes the targets are about (not --quick)."""
    return not figures.get("settings", {}).get("quick")


def mark(met: bool, is_checked: bool = True) -> str:
    """`met` / `not met` against the target (rich markup), or `not checked` for a smoke run."""
    if not is_checked:
        return "[dim]not checked[/]"
    return "[green]met[/]" if met else "[red]not met[/]"
