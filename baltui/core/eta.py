"""How long an experiment has left: a cost model per run, fitted to its queries so far, and the order the runs go in.

Why a model and not "elapsed / done x left" (what a progress bar assumes): in the seed's regime every query
trains 50 epochs from fresh weights on all the labelled images, so a query costs more the more images are
labelled, and the linear guess runs short, most of all early on. In a fixed-draws regime (batchbald2019's
`epoch_draws`) an epoch is the same number of draws whatever the labelled set, and the cost stays flat. So
each run's seconds per query are fitted against its labelled count, a + b*n by least squares where the cost
grows (`grows`), a constant otherwise or while there are too few points, and the queries left are summed
at their own labelled counts.

The seconds of a query are its own compute (acquisition + training + evaluation, as results.jsonl records
them), so after --resume the queries of earlier sessions count as much as this session's. Clock time only
says how far the query in progress has got and how much the rest of the process adds to the compute (the
`overhead` ratio); it comes from an ActiveClock, which stops while the experiment is paused, so a pause
neither moves elapsed time on nor lowers an ETA.

Where the runs share one process (the in-process executor) they go round in turn, one query each in grid
order, so a run ends only after the queries of the other runs before its last; that is the schedule
`EtaModel.remaining` adds up (`slots=1`). With parallel slots (Ray workers) each run is its own clock.

No UI here: the dashboard's progress bar and panels, headless mode and `baltui watch` all read their ETA
from one EtaModel each, and print it with `clock_text`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MIN_POINTS_FOR_SLOPE = 3  # a line through fewer points is noise
OVERHEAD_RANGE = (0.5, 5.0)  # clock time / compute beyond this is a measuring accident, not a rate
OUTLIER_MADS = 4.0  # a query this many robust standard deviations off the line is not the run's pace
ROBUST_WINDOW = 60  # points the outlier test's pairwise slopes are taken over (its cost grows as their square)


def clock_text(seconds: float) -> str:
    """The one way baltui writes a duration: `0:07`, `1:59`, `1:02:03` (hours only when there are some)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ActiveClock:
    """A monotonic clock that stands still while paused: elapsed time and ETAs leave paused time out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def now(self) -> float:
        """Seconds of the underlying clock, less every pause so far (the current one too)."""
        at = self._paused_at if self._paused_at is not None else self.clock()
        return at - self._paused_total

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += self.clock() - self._paused_at
            self._paused_at = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def paused_total(self) -> float:
        """Seconds paused so far, the current pause included."""
        current = self.clock() - self._paused_at if self._paused_at is not None else 0.0
        return self._paused_total + current


@dataclass(frozen=True)
class CostModel:
    """Seconds of one query at `n` labelled images: a + b*n (b = 0: the same for every query)."""

    a: float
    b: float = 0.0

    def seconds(self, n: int) -> float:
        return max(0.0, self.a + self.b * n)


def fit_cost(points: Sequence[tuple[int, float]], grows: bool = True) -> CostModel | None:
    """A cost model from (labelled images, seconds) of completed queries; None without any.

    A line by least squares when the cost `grows` with the labelled set and there are MIN_POINTS_FOR_SLOPE
    points at two labelled counts or more; a constant (their mean) otherwise, or when the line would fall.
    Outliers are left out first (`_typical`): one query that waited through a pause (folders written before the
    engine left checkpoint waits out of its durations record them), or a burst of load, must not bend the line
    that every query left is priced at.
    """
    if not points:
        return None
    points = _typical(points, grows)
    ns = [float(n) for n, _ in points]
    ys = [float(s) for _, s in points]
    mean_y = sum(ys) / len(ys)
    if grows and len(points) >= MIN_POINTS_FOR_SLOPE and len(set(ns)) >= 2:
        mean_n = sum(ns) / len(ns)
        sxx = sum((n - mean_n) ** 2 for n in ns)
        sxy = sum((n - mean_n) * (y - mean_y) for n, y in zip(ns, ys, strict=True))
        slope = sxy / sxx
        if slope > 0:
            return CostModel(mean_y - slope * mean_n, slope)
    return CostModel(mean_y)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _typical(points: Sequence[tuple[int, float]], grows: bool) -> list[tuple[int, float]]:
    """The points without outliers: those more than OUTLIER_MADS robust standard deviations (1.4826 x the median
    absolute deviation) from a robust fit, Theil-Sen's median of pairwise slopes (over the latest
    ROBUST_WINDOW points, which bounds its cost). Fewer than four points are all kept: nothing to tell by."""
    points = list(points)
    if len(points) < 4:
        return points
    recent = points[-ROBUST_WINDOW:]
    slopes = [(y2 - y1) / (n2 - n1) for i, (n1, y1) in enumerate(recent) for n2, y2 in recent[i + 1:] if n2 != n1]
    slope = max(0.0, _median(slopes)) if grows and slopes else 0.0
    residuals = [y - slope * n for n, y in points]
    centre = _median(residuals)
    spread = 1.4826 * _median([abs(r - centre) for r in residuals])
    keep = [p for p, r in zip(points, residuals, strict=True) if abs(r - centre) <= OUTLIER_MADS * spread + 1e-9]
    return keep if len(keep) >= 2 else points


@dataclass
class _Run:
    queries: int  # the run's last query (N of "query k of N")
    done: list[tuple[int, int, float]] = field(default_factory=list)  # (query, labelled, seconds)
    last_query: int = -1
    last_n: int | None = None
    last_at: float | None = None  # active-clock time of its latest completion in this session
    ended: bool = False  # finished or failed: no more queries

    @property
    def active(self) -> bool:
        return not self.ended and self.last_query < self.queries


class EtaModel:
    """Every run of one experiment (or one watched folder): what each has done and what is left, in seconds.

    Feed it each completed query (`add`: from results.jsonl with `at=None`, live with the active-clock time),
    each run that ended early (`end`), and when this session began computing (`start`); ask `remaining(now)`.
    `run_ids` is the grid order the runs take turns in; `initial` the labelled images of query 0 (None: taken
    from the first run that reports one).
    """

    def __init__(self, run_ids: Sequence[str], queries: int, instances: int, grows: bool = True, slots: int = 1,
                 initial: int | None = None) -> None:
        self.order = list(run_ids)
        self.queries = queries
        self.instances = instances
        self.grows = grows
        self.slots = max(1, slots)
        self.initial = initial
        self.runs: dict[str, _Run] = {rid: _Run(queries) for rid in self.order}
        self.started: float | None = None  # active-clock time this session began computing
        self.latest: str | None = None  # the run that completed a query last
        self.session: list[tuple[float, float]] = []  # (at, seconds) of this session's completions, in order
        self._models: dict[str, CostModel | None] = {}

    # ---- what happened --------------------------------------------------------------------------
    def _run(self, rid: str) -> _Run:
        if rid not in self.runs:  # a run the config did not list (a watched folder's): it goes last
            self.order.append(rid)
            self.runs[rid] = _Run(self.queries)
        return self.runs[rid]

    def start(self, at: float) -> None:
        """This session began computing at active-clock time `at` (the first query in progress runs from then)."""
        if self.started is None:
            self.started = at

    def add(self, rid: str, query: int, n_labelled: int, seconds: float, at: float | None = None) -> None:
        """A completed query: `seconds` of compute; `at` its active-clock time when it completed in this session
        (None for one read from disk). A query already known is replaced (a rewritten file, a repeated row)."""
        run = self._run(rid)
        run.done = [d for d in run.done if d[0] != query] + [(query, int(n_labelled), max(0.0, float(seconds)))]
        if query >= run.last_query:
            run.last_query, run.last_n = query, int(n_labelled)
        run.ended = False  # a run that failed and was resumed goes on
        if self.initial is None and query == 0:
            self.initial = int(n_labelled)
        self.latest = rid
        if at is not None:
            run.last_at = at
            self.session.append((at, max(0.0, float(seconds))))
        self._models.pop(rid, None)

    def begin_session(self) -> None:
        """A new process takes the runs up (--resume): the executor's round starts again at the first unfinished
        run, whichever run the records end with."""
        self.latest = None

    def end(self, rid: str) -> None:
        """The run finished or failed: nothing of it is left to wait for."""
        self._run(rid).ended = True

    # ---- what is left ---------------------------------------------------------------------------
    @property
    def points(self) -> int:
        """Completed queries known, over every run."""
        return sum(len(run.done) for run in self.runs.values())

    def model(self, rid: str) -> CostModel | None:
        """The run's cost model. Query 0 is left out once two later queries are known: it also pays for the
        first tracing of the model's functions, which no later query does."""
        if rid not in self._models:
            done = self.runs[rid].done
            later = [(n, s) for q, n, s in done if q > 0]
            self._models[rid] = fit_cost(later if len(later) >= 2 else [(n, s) for _, n, s in done], self.grows)
        return self._models[rid]

    def cost_model(self, rid: str) -> CostModel | None:
        """The run's own model, else the other runs' on average (a run that has not completed a query yet)."""
        own = self.model(rid)
        if own is not None:
            return own
        others = [m for r in self.order if r != rid and (m := self.model(r)) is not None]
        if not others:
            return None
        return CostModel(sum(m.a for m in others) / len(others), sum(m.b for m in others) / len(others))

    def overhead(self) -> float:
        """Clock time per second of compute in this session (data handling, writing, drawing), once two queries
        completed in it; 1 before. Only where the runs take turns: there clock time and compute are one line."""
        if self.slots > 1 or len(self.session) < 2:
            return 1.0
        span = self.session[-1][0] - self.session[0][0]
        compute = sum(seconds for _, seconds in self.session[1:])
        if span <= 0 or compute <= 0:
            return 1.0
        low, high = OVERHEAD_RANGE
        return min(high, max(low, span / compute))

    def _since(self, at: float | None, now: float) -> float:
        """Seconds the query in progress has run, from a completion (or the session's start) at `at`."""
        begun = at if at is not None else self.started
        return max(0.0, now - begun) if begun is not None else 0.0

    def _block(self, model: CostModel, first_n: int, count: int) -> float:
        """Seconds of `count` queries in a row from `first_n` labelled images on (each adds `instances`)."""
        if count <= 0:
            return 0.0
        labelled = count * first_n + self.instances * count * (count - 1) / 2
        return max(0.0, count * model.a + model.b * labelled)

    def remaining(self, now: float) -> dict[str, float]:
        """Seconds until each unfinished run completes its last query, at active-clock time `now`; empty when
        nothing is known to estimate from (no completed query yet)."""
        active = [rid for rid in self.order if self.runs[rid].active]
        if not active or not self.points:
            return {}
        models, first_n, left = {}, {}, {}
        for rid in active:
            run = self.runs[rid]
            model = self.cost_model(rid)
            n = run.last_n + self.instances if run.last_n is not None else self.initial
            if model is None or n is None:
                return {}
            models[rid], first_n[rid], left[rid] = model, n, run.queries - run.last_query
        if self.slots > 1:
            return self._parallel(active, models, first_n, left, now)
        # One process: the runs after the latest one go next, to the end of this round; then every unfinished
        # run once a round, in grid order. Run j's k-th query left (k = 1, 2, ...) is in round k - 1 if it is
        # in this round's rest, else in round k; a run ends in the round of its last query.
        start = 0
        if self.latest in self.order:
            following = [rid for rid in self.order[self.order.index(self.latest) + 1:] if rid in left]
            start = active.index(following[0]) if following else 0
        rest = {rid: int(i >= start) for i, rid in enumerate(active)}  # 1: still to go in this round
        scale = self.overhead()
        first = active[start]  # the query in progress: it has run `into` seconds of its cost already
        into = min(self._since(self.session[-1][0] if self.session else None, now),
                   models[first].seconds(first_n[first]) * scale)
        finish = {}
        for i, rid in enumerate(active):
            last_round = left[rid] - rest[rid]
            total = 0.0
            for j, other in enumerate(active):
                before = min(left[other], max(0, last_round + rest[other] - 1))  # in the rounds before
                k = last_round + rest[other]  # its query in the last round, if it has one by then
                if 1 <= k <= left[other] and j <= i:
                    before += 1
                total += self._block(models[other], first_n[other], before)
            finish[rid] = max(0.0, total * scale - into)
        return finish

    def _parallel(self, active: list[str], models: dict[str, CostModel], first_n: dict[str, int],
                  left: dict[str, int], now: float) -> dict[str, float]:
        """Each run on its own slot (more runs than slots: they wait their turn, roughly in proportion)."""
        share = max(1.0, len(active) / self.slots)
        finish = {}
        for rid in active:
            total = self._block(models[rid], first_n[rid], left[rid])
            into = self._since(self.runs[rid].last_at, now)
            finish[rid] = max(0.0, total - into) * share
        return finish

    def total_remaining(self, now: float) -> float | None:
        """Seconds until the last run completes (None when there is nothing to estimate from)."""
        finish = self.remaining(now)
        return max(finish.values()) if finish else None


def cost_grows(epoch_draws: object) -> bool:
    """Whether a query's cost grows with the labelled set: yes unless each epoch is a fixed number of draws."""
    return not (isinstance(epoch_draws, (int, float)) and epoch_draws > 0)
