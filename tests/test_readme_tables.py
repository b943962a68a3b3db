"""The README's results tables are `baltui report DIR --format markdown` output, pasted, never edited.

Every committed run folder under results/ is re-reported here and its table must appear in the README
line for line (rows and the notes that say what they mean), so a hand-edited number, a stale table after
a run was continued, or a table whose folder was not committed all turn this test red.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from baltui.commands.report import main

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = sorted(p for p in (ROOT / "results").glob("*") if (p / "results.jsonl").exists())


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_each_committed_folder_has_its_report_verbatim_in_the_readme(folder, capsys, monkeypatch):
    # as the README shows the command: from the checkout's root (the report names the data file from there)
    monkeypatch.chdir(ROOT)
    assert main([str(folder.relative_to(ROOT)), "--format", "markdown"]) == 0
    table = capsys.readouterr().out.rstrip("\n")
    readme = (ROOT / "README.md").read_text()
    assert table in readme, f"README lacks the current `baltui report {folder.relative_to(ROOT)} --format markdown`"
    # and the README names the folder it came from next to it, so a reader can re-make it
    assert f"baltui report {folder.relative_to(ROOT)}" in readme


MULTI = r"baltui report ((?:results/[\w.-]+ )+results/[\w.-]+) --format markdown"


def test_each_readme_table_of_several_folders_is_their_report_verbatim(capsys, monkeypatch):
    """A table that puts folders side by side (`baltui report A B --format markdown`) is that command's output."""
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text()
    for command in sorted(set(re.findall(MULTI, readme))):
        assert main([*command.split(), "--format", "markdown"]) == 0
        table = capsys.readouterr().out.rstrip("\n")
        assert table in readme, f"README lacks the current `baltui report {command} --format markdown`"


def test_every_readme_results_table_comes_from_a_committed_folder():
    """No table of results in the README without a folder under results/ that makes it."""
    readme = (ROOT / "README.md").read_text()
    commands = set(re.findall(r"baltui report (results/[\w.-]+) --format markdown", readme))
    several = set(re.findall(MULTI, readme))
    tables = readme.count("| strategy | runs |")
    folders = {str(f.relative_to(ROOT)) for f in FOLDERS}
    assert commands <= folders and all(set(c.split()) <= folders for c in several)
    assert tables == len(commands) + len(several)
