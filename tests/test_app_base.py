"""What the dashboard, `baltui watch` and `baltui label` share (baltui.ui.app_base, baltui.ui.keys), driven by Pilot.

Each app's help is read from the screen as drawn; the keys are pressed as a person would. Fake engines and
hand-written run folders keep it fast; nothing trains.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from drawn import wait_until

from baltui.commands.label.app import LabelApp
from baltui.commands.label.session import LabelSession, class_keys
from baltui.commands.run import make_app
from baltui.commands.watch.app import make_watch_app
from baltui.core.errors import BaltuiError
from baltui.core.events import PhaseChanged, QueryResult
from baltui.core.images import load_source
from baltui.runs.results import prepare_out_dir
from baltui.runs.watched import open_folders
from baltui.ui.keys import ALL, KEYS, LABEL, RUN, WATCH, bindings_for, help_lines
from baltui.ui.screens.help import HelpScreen

SIZE = (200, 100)  # tall enough for every help screen to show whole


def fake_engine(delay: float = 0.0):
    def factory(config, dataset, strategy, seed, control, on_phase, resume):
        rid = f"{strategy}-s{seed}"
        for q in range(config.queries + 1):
            control.checkpoint()
            on_phase(PhaseChanged(rid, q, "training", 1, 1))
            time.sleep(delay)
            k = 0 if q == 0 else config.instances
            yield QueryResult(rid, strategy, seed, q, 20 + k * q, 1000 - k * q, 0.5, 0.0, 0.0, 0.0,
                              list(range(k)), [0] * k, None, np.zeros((k, 8, 8)), None, [])

    return factory


@pytest.fixture
def dashboard(tmp_path, tiny, digits):
    def _make(queries: int = 2, delay: float = 0.0, **kwargs):
        config = tiny(queries=queries)
        prepare_out_dir(tmp_path / "run", config.to_dict())
        return make_app(config, tmp_path / "run", engine_factory=fake_engine(delay), dataset=digits, **kwargs)

    return _make


@pytest.fixture
def watch(tmp_path):
    def _make():
        from baltui.core.config import RunConfig

        folder = tmp_path / "watched"
        folder.mkdir()
        config = RunConfig(name="w", dataset="digits", strategies=["entropy"], seeds=[0], queries=2, out=str(folder))
        (folder / "config.json").write_text(json.dumps(config.to_dict()))
        (folder / "results.jsonl").touch()
        return make_watch_app(open_folders([str(folder)]), poll=0.1, probe=False)

    return _make


@pytest.fixture
def label(tmp_path, digits):
    def _make(classes: list[str] | None = None, **kwargs):
        npz = tmp_path / "digits.npz"
        np.savez(npz, x_train=digits.x_pool[:30, ..., 0], y_train=digits.y_pool[:30])
        session = LabelSession(load_source(str(npz)), tmp_path / "session", classes or [str(c) for c in range(10)],
                               initial=4, instances=2, epochs=2, batch_size=16, mc_samples=3)
        return LabelApp(session, **kwargs)

    return _make


def screen_text(app) -> str:
    """The active screen as drawn, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


# ---- the key table --------------------------------------------------------------------------------
def test_every_app_binds_what_the_table_lists_and_nothing_else():
    from baltui.commands.run.app import BaltuiApp
    from baltui.commands.watch.app import WatchApp

    for app, cls in ((RUN, BaltuiApp), (WATCH, WatchApp), (LABEL, LabelApp)):
        bound = {(b.key, b.action) for bindings in cls._merged_bindings.key_to_bindings.values() for b in bindings}
        assert bound == {(b.key, b.action) for b in bindings_for(app)}, app
    assert {k.action for k in KEYS if k.bound and k.key in ("ctrl+c", "ctrl+q")} == {"quit"}
    assert all(k.apps <= ALL and k.apps for k in KEYS)


def test_no_label_key_can_be_a_class_key():
    """Class keys are read before the bindings: a class that took `s` would swallow a screenshot key `s`."""
    every_key = class_keys([f"class{i}" for i in range(33)])  # 33 classes take every key a class can get
    assert len(every_key) == 33 and "s" in every_key
    label_chars = {{"question_mark": "?"}.get(b.key, b.key) for b in bindings_for(LABEL)}
    assert not label_chars & set(every_key), label_chars & set(every_key)
    for name in ("S", "Ship", "?", "Q", "X"):
        assert not set(class_keys([name, "other"])) & label_chars


# ---- help, from the table, in all three apps ------------------------------------------------------
def drawn_help_table(app) -> list[tuple[str, str]]:
    """The help screen's key table as drawn: (keys, action) per row, a wrapped cell joined into one line."""
    box = app.screen.query_one("#help").region
    lines = [line[box.x:box.right] for line in screen_text(app).splitlines()[box.y:box.bottom]]
    rows: list[list[str]] = []
    joining = False
    for line in lines:
        if "├" in line or "└" in line or "┌" in line:
            joining = False
            continue
        cells = re.search(r"│ (.*?)\s*│ (.*?)\s*│", line)
        if cells is None:
            continue
        if joining:
            rows[-1] = [f"{rows[-1][0]} {cells[1]}", f"{rows[-1][1]} {cells[2]}"]
        else:
            rows.append([cells[1], cells[2]])
            joining = True
    return [(" ".join(keys.split()), " ".join(action.split())) for keys, action in rows]


def assert_help_is_the_table(app, name: str) -> None:
    expected = [(", ".join(keys), what.replace("`", "")) for keys, what in help_lines(name)]
    assert drawn_help_table(app) == [("key", "action"), *expected]


async def test_help_lists_the_dashboards_keys(dashboard):
    app = dashboard()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert isinstance(app.screen, HelpScreen)
        assert "Each panel is one run" in screen_text(app)
        assert_help_is_the_table(app, RUN)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_help_taller_than_the_screen_scrolls_to_its_last_key(dashboard):
    app = dashboard()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert "Ctrl+P" not in screen_text(app)  # 80x24 shows the introduction only
        await pilot.press("end")
        await pilot.pause(0.3)
        assert "│ Ctrl+P  │ command palette" in screen_text(app)


async def test_help_lists_the_watchers_keys(watch):
    app = watch()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert "read-only view" in screen_text(app)
        assert_help_is_the_table(app, WATCH)
        await pilot.press("q")  # closes the help, not the viewer
        assert app.is_running and not isinstance(app.screen, HelpScreen)


async def test_label_mode_has_help_and_class_keys_wait_while_it_is_open(label):
    app = label()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert isinstance(app.screen, HelpScreen)
        assert_help_is_the_table(app, LABEL)
        assert "Class keys: `0` 0" in app.screen.text
        await pilot.press("3")  # a class key under the help: nothing is labelled
        assert app.session.labels == {}
        await pilot.press("escape")
        await pilot.press("3")
        assert list(app.session.labels.values()) == [3]


# ---- screenshot -----------------------------------------------------------------------------------
async def test_dashboard_screenshot_goes_into_the_run_folder(dashboard):
    app = dashboard()
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("s")
        await pilot.pause(0.2)
    assert [p.name.startswith("baltui-") for p in app.out_dir.glob("*.svg")] == [True]


async def test_watch_screenshot_goes_into_the_current_folder_never_a_watched_one(watch, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    app = watch()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("s")
        await pilot.pause(0.2)
    assert [p.name.startswith("baltui-watch-") for p in here.glob("*.svg")] == [True]
    assert not list((tmp_path / "watched").glob("*.svg"))


async def test_label_screenshot_is_upper_case_s_and_a_class_named_ship_keeps_s(label, tmp_path):
    app = label(classes=["ship", "plane"])
    assert app.session.keys["s"] == 0
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("s")  # the class key: labels, no screenshot
        assert list(app.session.labels.values()) == [0]
        assert not list((tmp_path / "session").glob("*.svg"))
        await pilot.press("S")
        await pilot.pause(0.2)
        assert [p.name.startswith("baltui-label-") for p in (tmp_path / "session").glob("*.svg")] == [True]
        assert list(app.session.labels.values()) == [0]


async def test_the_palettes_screenshot_is_the_apps(dashboard):
    from textual.command import CommandPalette

    app = dashboard()
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: list(app.out_dir.glob("*.svg")))


# ---- Ctrl+C leaves watch and label mode like q ----------------------------------------------------
async def test_ctrl_c_leaves_the_watcher_with_0(watch):
    app = watch()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_value == 0
    assert all(w.is_cancelled or w.is_finished for w in app.workers)


async def test_ctrl_c_leaves_label_mode_with_0(label):
    app = label()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_value == 0 and app.session.control.stopped


# ---- one worker-error handler ---------------------------------------------------------------------
async def test_a_dashboard_worker_error_is_shown_and_sets_the_exit_code(dashboard):
    def broken(config, dataset, out_dir, emit, control, engine_factory, resume):
        raise BaltuiError("the data went away")

    app = dashboard(executor=broken)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "experiment stopped: BaltuiError: the data went away" in str(app.query_one("#overall").render())
        assert [n.title for n in app._notifications] == ["experiment stopped"]
        await pilot.press("q")
    assert app.return_value == 2


async def test_a_watch_worker_error_is_shown(watch, monkeypatch):
    from baltui.runs.follower import FolderFollower

    def step(self):
        raise OSError("the disk went away")

    monkeypatch.setattr(FolderFollower, "step", step)
    app = watch()
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: "follow stopped" in str(app.query_one("#overall").render()))
        assert "OSError: the disk went away" in str(app.query_one("#overall").render())
        assert "follow stopped" in [n.title for n in app._notifications]


async def test_a_label_retrain_error_is_shown_and_the_screen_goes_on(label):
    app = label()

    def broken():
        raise ValueError("bad images")

    app.session.train_and_acquire = broken
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("1", "2", "3", "4")  # the initial batch is labelled: the retrain starts, and fails
        await wait_until(pilot, lambda: app._notifications and not app.training)
        assert [n.message for n in app._notifications] == ["ValueError: bad images"]
