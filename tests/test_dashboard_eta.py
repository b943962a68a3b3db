"""The dashboard's ETAs against the truth, on a fake engine and a fake clock: nothing sleeps, nothing guesses.

Each query of the fake engine announces itself (run, labelled images) and waits for the test, which moves the
fake clock on by that query's cost (half of it first, to look mid-query) and lets it complete. The true finish
time of every run is then known exactly, and every ETA drawn (the bar's and each panel's status line, read
from their rendered lines) is held to it: within 25% from query 5 on, for a cost that grows with the labelled
set (the seed's regime) and for a constant one (a fixed-draws regime). A pause of 5 s lowers no ETA and
moves no elapsed time. At 80x24 as at 200x60, the ETA is among what a panel keeps.
"""

from __future__ import annotations

import queue
import re
import threading

import pytest
from drawn import drawn, show_panels
from fakes import FakeEngine, fake_result
from test_layouts import SIZES

from baltui.commands.run import make_app
from baltui.runs.results import prepare_out_dir
from baltui.ui.widgets.run_panel import RunPanel

QUERIES = 12
INSTANCES = 5
INITIAL = 20  # tiny_config: 2 per class of the 10 digits
TOLERANCE = 0.25
FROM_QUERY = 5
ETA = re.compile(r"ETA (\d+(?::\d\d){1,2})")


def growing(n: int) -> float:
    """The seed's regime: 50 epochs on n images, so a query costs more with every label."""
    return 6.0 + 0.8 * n


def constant(n: int) -> float:
    """A fixed-draws regime: every epoch is the same number of draws."""
    return 40.0


class FakeClock:
    def __init__(self) -> None:
        self.t = 5000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class SteppedEngine:
    """A FakeEngine whose every query announces (run, query, labelled) and waits for the test to release it;
    its recorded seconds are `cost(labelled)`."""

    def __init__(self, cost) -> None:
        self.cost = cost
        self.announced: queue.Queue[tuple[str, int, int]] = queue.Queue()
        self.go = threading.Semaphore(0)
        self.abandoned = threading.Event()
        self.extra = 0.0  # seconds the next query's own clock counts beyond its cost (a pause it waited through)
        self.engine = FakeEngine(epochs=1, result=self._result)

    def _result(self, strategy, seed, q, config):
        n = INITIAL + config.instances * q
        self.announced.put((f"{strategy}-s{seed}", q, n))
        while not self.go.acquire(timeout=0.1):
            if self.abandoned.is_set():  # the test failed: end every run now, not one timeout a query later
                raise RuntimeError("the test stopped driving this engine")
        extra, self.extra = self.extra, 0.0
        return fake_result(strategy, seed, q, instances=config.instances, acquisition_s=0.0,
                           training_s=self.cost(n) + extra, evaluation_s=0.0)


def parse(text: str) -> float | None:
    match = ETA.search(text)
    if match is None:
        return None
    seconds = 0
    for part in match.group(1).split(":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


def shown_etas(app) -> tuple[float | None, dict[str, float | None]]:
    """The bar's ETA and each panel's, as drawn."""
    return (parse(drawn(app, app.query_one("#eta"))),
            {p.run_id: parse(drawn(app, p.query_one(".status"))) for p in app.query(RunPanel)})


async def next_query(pilot, engine: SteppedEngine) -> tuple[str, int, int]:
    for _ in range(1000):
        try:
            return engine.announced.get_nowait()
        except queue.Empty:
            await pilot.pause(0.01)
    raise AssertionError("the engine announced no query")


async def until(pilot, condition) -> None:
    for _ in range(1000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("timed out")


async def drive(app, pilot, engine: SteppedEngine, clock: FakeClock, on_step=None) -> list[tuple]:
    """Run the experiment to its end; returns (clock, last query of every run, bar ETA, panel ETAs) at each look
    (mid-query and after each query) and then the true finish time of every run."""
    try:
        return await _drive(app, pilot, engine, clock, on_step)
    except BaseException:
        engine.abandoned.set()  # the runs end now (paused or not): the app can close on the failure
        app.control.stop()
        raise


async def _drive(app, pilot, engine: SteppedEngine, clock: FakeClock, on_step) -> list[tuple]:
    await show_panels(app, pilot)  # the panels' status lines are read as drawn
    looks, finish = [], {}
    panels = {p.run_id: p for p in app.query(RunPanel)}
    done = {rid: -1 for rid in panels}
    for _ in range(len(panels) * (QUERIES + 1)):
        rid, q, n = await next_query(pilot, engine)
        cost = engine.cost(n)
        clock.advance(cost / 2)  # halfway through the query
        app.tick()
        await pilot.pause()
        looks.append((clock.t, dict(done), *shown_etas(app)))
        if on_step is not None:
            await on_step(rid, q)
        clock.advance(cost / 2)
        engine.go.release()
        await until(pilot, lambda rid=rid, q=q: len(panels[rid].results) == q + 1)
        await pilot.pause()
        done[rid] = q
        if q == QUERIES:
            finish[rid] = clock.t
        looks.append((clock.t, dict(done), *shown_etas(app)))
    await app.workers.wait_for_complete()
    return [(t, d, bar, panel, finish) for t, d, bar, panel in looks]


def check(looks) -> int:
    """Every ETA shown once every run has completed query FROM_QUERY is within TOLERANCE of the truth."""
    checked = 0
    for t, done, bar, panels, finish in looks:
        if min(done.values()) < FROM_QUERY:
            continue
        active = {rid: finish[rid] - t for rid in panels if done[rid] < QUERIES}
        if not active:
            continue
        true_end = max(active.values())
        assert bar is not None and abs(bar - true_end) <= TOLERANCE * true_end + 1, (t, bar, true_end)
        for rid, true in active.items():
            shown = panels[rid]
            assert shown is not None, f"{rid} shows no ETA at {t} ({done})"
            assert abs(shown - true) <= TOLERANCE * true + 1, (rid, t, shown, true)  # +1: whole seconds
            checked += 1
    return checked


@pytest.fixture
def app_on(tmp_path, tiny, digits):
    engines = []

    def make(cost, clock):
        config = tiny(queries=QUERIES, instances=INSTANCES)
        prepare_out_dir(tmp_path / "run", config.to_dict())
        engine = SteppedEngine(cost)
        engines.append(engine)
        return make_app(config, tmp_path / "run", engine_factory=engine.engine, dataset=digits, clock=clock), engine

    yield make
    for engine in engines:
        engine.abandoned.set()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_eta_follows_a_cost_that_grows_with_the_labelled_set(size, app_on):
    clock = FakeClock()
    app, engine = app_on(growing, clock)
    async with app.run_test(size=size) as pilot:
        looks = await drive(app, pilot, engine, clock)
    assert check(looks) >= 2 * (QUERIES - FROM_QUERY)


async def test_eta_follows_a_constant_cost(app_on):
    clock = FakeClock()
    app, engine = app_on(constant, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        looks = await drive(app, pilot, engine, clock)
    assert check(looks) >= 2 * (QUERIES - FROM_QUERY)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)], ids=["80x24", "200x60"])
async def test_a_pause_lowers_no_eta_and_stops_elapsed_time(size, app_on):
    clock = FakeClock()
    app, engine = app_on(growing, clock)
    seen = []

    async def pause_mid_query(rid, q):
        if q != 7 or rid != "entropy-s0":
            return
        before = shown_etas(app)
        elapsed = drawn(app, app.query_one("#overall"))
        await pilot.press("p")
        assert app.paused and "paused" in drawn(app, app.query_one("#overall"))
        clock.advance(5.0)
        engine.extra = 5.0  # as the real engine's: its clock runs on while it waits at a checkpoint
        app.tick()
        await pilot.pause()
        during = shown_etas(app)
        assert during[0] >= before[0] and all(during[1][r] >= before[1][r] for r in before[1]), (before, during)
        assert drawn(app, app.query_one("#overall")).split("elapsed")[1] == elapsed.split("elapsed")[1]
        await pilot.press("p")
        app.tick()
        await pilot.pause()
        assert shown_etas(app) == before  # the 5 s paused count for nothing
        seen.append(during)

    async with app.run_test(size=size) as pilot:
        looks = await drive(app, pilot, engine, clock, on_step=pause_mid_query)
    assert seen and all(eta is not None for eta in seen[0][1].values())
    # the query that waited through the pause counts at its cost, not 5 s more: right after it, the bar is exact
    t, done, bar, _, finish = next(look for look in looks if look[1] == {"entropy-s0": 7, "uniform-s0": 6})
    assert abs(bar - (max(finish.values()) - t)) <= 1, (bar, max(finish.values()) - t)
