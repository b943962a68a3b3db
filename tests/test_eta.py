"""baltui.core.eta without any UI: the one duration format, the paused clock, the cost fit and the schedule.

The schedule is checked against a plain replay of the in-process executor (one query of each unfinished run in
turn, in grid order) with known costs: the model's seconds left must be the replay's, to the second.
"""

from __future__ import annotations

import pytest

from baltui.core.eta import ActiveClock, CostModel, EtaModel, clock_text, cost_grows, fit_cost


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (7.4, "0:07"), (119, "1:59"), (3600, "1:00:00"),
                                               (3723, "1:02:03"), (-5, "0:00"), (59.6, "1:00")])
def test_one_duration_format(seconds, text):
    assert clock_text(seconds) == text


def test_the_active_clock_stands_still_while_paused():
    now = [100.0]
    clock = ActiveClock(lambda: now[0])
    start = clock.now()
    now[0] += 10
    clock.pause()
    now[0] += 5  # paused: counts for nothing
    assert clock.now() - start == 10 and clock.paused
    clock.pause()  # a second pause changes nothing
    now[0] += 5
    clock.resume()
    assert clock.now() - start == 10 and not clock.paused
    now[0] += 2
    assert clock.now() - start == 12


def test_fit_grows_where_the_cost_grows_and_stays_flat_where_it_does_not():
    line = [(n, 3.0 + 0.5 * n) for n in (20, 30, 40, 50)]
    assert fit_cost(line) == pytest.approx(CostModel(3.0, 0.5))
    assert fit_cost(line, grows=False) == CostModel(sum(s for _, s in line) / 4)  # a fixed-draws regime
    assert fit_cost([(20, 4.0), (30, 9.0)]) == CostModel(6.5)  # two points: too few for a line
    assert fit_cost([(n, 10.0 - 0.1 * n) for n in (20, 30, 40)]).b == 0  # a falling line is noise: flat
    assert fit_cost([]) is None
    assert not cost_grows(5056) and cost_grows(0) and cost_grows(None)


def test_one_query_that_waited_through_a_pause_does_not_bend_the_fit():
    """Older folders' results.jsonl record a paused query's wait (or load bursts do the same): 15 s for 1."""
    line = [(n, 0.2 + 0.01 * n) for n in range(30, 150, 10)]
    paused = line[:6] + [(90, line[6][1] + 14.0)] + line[7:]
    fitted, truth = fit_cost(paused), fit_cost(line)
    assert (fitted.a, fitted.b) == pytest.approx((truth.a, truth.b)) == (0.2, 0.01)
    flat = [(n, 2.0) for n in range(30, 150, 10)]
    assert fit_cost(flat[:3] + [(60, 16.0)] + flat[4:], grows=False) == CostModel(2.0)


def replay(costs: dict[str, list[float]], order: list[str], start: int = 0) -> dict[str, float]:
    """When each run's last query ends if the runs take turns (this round from `start`, then from the top)."""
    left = {rid: list(c) for rid, c in costs.items() if c}
    t, finish, sequence = 0.0, {}, order[start:]
    while left:
        for rid in sequence:
            if rid in left:
                t += left[rid].pop(0)
                if not left[rid]:
                    finish[rid] = t
                    del left[rid]
        sequence = order
    return finish


def cost(n: int) -> float:
    return 4.0 + 0.25 * n


def test_runs_taking_turns_end_when_the_replay_says_from_any_point():
    order = ["a-s0", "b-s0", "c-s0"]
    queries, instances, initial = 10, 10, 20
    model = EtaModel(order, queries, instances)
    model.start(0.0)
    t = 0.0
    for q in range(queries + 1):
        for i, rid in enumerate(order):
            n = initial + instances * q
            t += cost(n)
            model.add(rid, q, n, cost(n), at=t)
            if q < 4:  # a line needs three queries after query 0 (which also pays for tracing) of every run
                continue
            left = {r: [cost(initial + instances * k) for k in range(q + (j <= i), queries + 1)]
                    for j, r in enumerate(order)}
            truth = replay(left, order, (i + 1) % len(order))
            assert model.remaining(t) == pytest.approx({r: v for r, v in truth.items()}), (q, rid)
            # halfway through the next query, as much less is left
            assert model.remaining(t + 2.0) == pytest.approx({r: v - 2.0 for r, v in truth.items()})
    assert model.remaining(t) == {}


def test_resumed_runs_go_on_from_their_records_in_a_new_round():
    """After --resume the runs stand at different queries; the executor starts a round at the first run."""
    order = ["a-s0", "b-s0", "c-s0"]
    model = EtaModel(order, 10, 10)
    for q in range(6):
        model.add("a-s0", q, 20 + 10 * q, 2.0)
    for q in range(3):
        model.add("b-s0", q, 20 + 10 * q, 2.0)
    model.add("c-s0", 0, 20, 2.0)
    model.end("c-s0")  # c failed
    model.begin_session()
    model.start(0.0)
    assert model.remaining(0.0) == replay({"a-s0": [2.0] * 5, "b-s0": [2.0] * 8}, order)
    model.add("c-s0", 1, 30, 2.0)  # resumed after its failure: it goes on
    assert "c-s0" in model.remaining(0.0)


def test_a_run_without_queries_yet_costs_what_the_others_do():
    model = EtaModel(["a", "b"], 2, 10, initial=20)
    assert model.remaining(0.0) == {}  # nothing to go by
    model.add("a", 0, 20, 5.0, at=5.0)
    # b's three queries at a's 5 s each, in turn with a's two left: b0 a1 b1 a2 b2
    assert model.remaining(5.0) == {"a": 20.0, "b": 25.0}


def test_clock_time_beyond_the_compute_scales_what_is_left():
    """Writing, drawing, loading: measured as clock time over compute between this session's queries."""
    model = EtaModel(["a"], 10, 10, grows=False)
    model.start(0.0)
    for q in range(3):
        model.add("a", q, 20 + 10 * q, 1.0, at=1.5 * (q + 1))  # 1 s of compute every 1.5 s
    assert model.overhead() == pytest.approx(1.5)
    assert model.remaining(4.5) == {"a": pytest.approx(8 * 1.5)}  # queries 3..10


def test_parallel_slots_count_each_run_on_its_own():
    model = EtaModel(["a", "b"], 4, 10, grows=False, slots=2)
    model.start(0.0)
    model.add("a", 0, 20, 3.0, at=3.0)
    model.add("b", 0, 20, 5.0, at=5.0)
    assert model.remaining(5.0) == {"a": 4 * 3.0 - 2.0, "b": 4 * 5.0}
