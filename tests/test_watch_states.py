"""`baltui watch` at 80x24 as at 200x60: an interrupted folder says so, old times carry their date, the header
names every folder it can, a running run shows its ETA, and leaving says how to resume and report.

Folders written by hand as in tests/test_watch.py; the writer's lock as a writer leaves it (released: empty).
"""

from __future__ import annotations

import os
import time

import pytest
from drawn import drawn, screen_lines, show_panels
from test_layouts import SIZES
from test_watch import append, end_row, make_run, query_row, until

from baltui.runs.lock import LOCK_FILE
from baltui.runs.status import STALLED, FolderStatus, moment
from baltui.runs.watched import open_folders

IDS = [f"{w}x{h}" for w, h in SIZES]


def watch(folders, probe=True, stall_after=600.0):
    from baltui.commands.watch.app import make_watch_app

    return make_watch_app(open_folders([str(f) for f in folders]), stall_after=stall_after, poll=0.1, probe=probe)


def released(folder):
    """What a writer that stopped (q, Ctrl+C, SIGTERM) leaves: its lock file, emptied."""
    (folder / LOCK_FILE).write_text("")


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_a_folder_nobody_writes_was_interrupted(size, tmp_path):
    folder = make_run(tmp_path)
    append(folder, query_row("entropy", 0), query_row("uniform", 0), query_row("entropy", 1), query_row("uniform", 1),
           query_row("entropy", 2))
    released(folder)
    app = watch([folder])
    async with app.run_test(size=size) as pilot:
        entropy = app.query_one("#run-entropy-s0")
        await until(pilot, lambda: entropy.stalled)
        await pilot.pause()
        overall = drawn(app, app.query_one("#overall"))
        assert overall.startswith("interrupted at query 1 of 4"), overall  # uniform got to 1, entropy to 2
        assert "stalled" not in " ".join(screen_lines(app))
        if app.view == "table":  # (80x24: two runs open on the run table) its rows say so too
            rows = [line for line in screen_lines(app) if line.startswith(" ■ ")]
            assert rows and all("interrupted" in row for row in rows), rows
        await show_panels(app, pilot)
        status = drawn(app, entropy.query_one(".status"))
        assert "query 2 of 4" in status and "interrupted" in status and "ETA" not in status
        assert entropy.border_subtitle == "interrupted"
        assert app.farewell() == [f"run folder: {folder}", f"resume:     baltui --resume {folder}",
                                  f"report:     baltui report {folder}"]
        await pilot.press("q")


def test_a_time_not_of_today_carries_its_date():
    now = time.mktime((2026, 12, 3, 12, 0, 0, 0, 0, -1))
    assert moment(now - 3600, today=now) == "11:00:00"
    assert moment(now - 2 * 86400, today=now) == "2026-12-01 12:00:00"
    old = FolderStatus(STALLED, rows=3, last_row=time.time() - 3 * 86400)
    assert old.describe().startswith("stalled: no new row since ") and old.describe().count("-") == 2


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
async def test_a_stalled_folder_of_another_day_shows_the_day(size, tmp_path):
    folder = make_run(tmp_path)
    append(folder, query_row("entropy", 0), query_row("uniform", 0))
    two_days_ago = time.time() - 2 * 86400
    os.utime(folder / "results.jsonl", (two_days_ago, two_days_ago))
    app = watch([folder], probe=False, stall_after=60.0)  # no lock to read: a writer elsewhere, maybe
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.query_one("#run-entropy-s0").stalled)
        await pilot.pause()
        day = time.strftime("%Y-%m-%d", time.localtime(two_days_ago))
        assert f"stalled: no new row since {day} " in drawn(app, app.query_one("#overall"))
        await pilot.press("q")


@pytest.mark.parametrize("size", SIZES, ids=IDS)
async def test_the_header_names_every_folder_that_fits(size, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = ["mnist-entropy-20261201", "mnist-bald-20261201-a", "mnist-uniform-20261201"]
    folders = [make_run(tmp_path, name) for name in names]
    from baltui.commands.watch.app import make_watch_app

    app = make_watch_app(open_folders(names), poll=0.1)  # as a user gives them: relative to here
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        header = screen_lines(app)[0].strip()
        if size[0] >= 120:  # room for every folder as given
            assert header.endswith(" · ".join(names)), header
        else:  # the count, and as many names as fit
            assert header.endswith(f"3 folders: {names[0]}, …"), header
        assert all(f.exists() for f in folders)
        await pilot.press("q")


async def test_a_running_run_shows_its_eta_and_a_live_writer_gets_no_resume(tmp_path):
    import subprocess
    import sys

    folder = make_run(tmp_path)
    code = ("import sys, time; from baltui.runs.lock import take; take(sys.argv[1], 'run'); print('held', flush=True); "
            "time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "held"
        append(folder, query_row("entropy", 0), query_row("uniform", 0), query_row("entropy", 1))
        app = watch([folder])
        async with app.run_test(size=(80, 24)) as pilot:
            entropy = app.query_one("#run-entropy-s0")
            await until(pilot, lambda: len(entropy.results) == 2)
            append(folder, query_row("uniform", 1))  # a live row: the writer is at it
            await until(pilot, lambda: "ETA" in drawn(app, entropy.query_one(".status")))
            assert not entropy.stalled and "running" in drawn(app, app.query_one("#overall"))
            lines = app.farewell()
            assert lines[0] == f"run folder: {folder}" and lines[2] == f"report:     baltui report {folder}"
            assert lines[1].startswith(f"resume:     not now: pid {writer.pid} "), lines
            await pilot.press("q")
    finally:
        writer.kill()
        writer.wait()


async def test_a_finished_folder_is_finished_whatever_its_lock(tmp_path):
    folder = make_run(tmp_path)
    rows = [query_row(s, q) for q in range(5) for s in ("entropy", "uniform")]
    append(folder, *rows, end_row("entropy"), end_row("uniform"))
    released(folder)
    app = watch([folder])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "finished" in drawn(app, app.query_one("#overall")))
        assert app.farewell() == [f"run folder: {folder}", f"report:     baltui report {folder}"]
        await pilot.press("q")
