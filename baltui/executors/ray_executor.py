"""The (strategy, seed) grid as Ray tasks: one task per run, at most `workers` at a time (`--workers N`).

Each task is a streaming generator that builds baltui.core.engine.ActiveLearningRun inside the worker and yields
one plain record per completed query (and throttled phase changes). The driver `ray.wait`s on the tasks and
hands every record to the same Recorder as the in-process executor: the driver alone writes results.jsonl,
the same records in the same form, and `emit` gets the same events.

Faults: tasks never retry (`max_retries=0`), since a retried generator starts again from query 0 and would
write its queries twice. A task whose worker dies is recorded as `run_failed` with the reason, and
`--resume` continues it from its last completed query. `Control.stop()` cancels every task; the completed
queries that are already streamed are kept. Pause holds back the tasks not started yet; it is not forwarded
to running tasks (they keep computing, and the driver keeps writing what they send).

Inside a task the engine runs in a thread of the worker and the task's own thread only relays its records.
`ray.cancel` raises KeyboardInterrupt in that relaying thread, which stops the engine through its Control
at the next epoch or phase boundary: the interrupt never lands inside modAL, whose bare `except:` around
the query strategy would swallow it and query again.

Importing this module imports Ray; nothing on the default (in-process) path imports it.
"""

from __future__ import annotations

import os
import queue
import socket
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig, run_id
from baltui.core.control import Control
from baltui.core.errors import BaltuiError, RunCancelled
from baltui.core.events import ExperimentFinished, PhaseChanged
from baltui.core.threads import THREAD_VARIABLES, cores, thread_env
from baltui.core.threads import threads_per_run as threads_for
from baltui.executors.local import EngineFactory, _describe
from baltui.runs.recorder import Emit, Recorder, runs_to_do

try:
    import ray
    import ray.exceptions
except ImportError:  # pragma: no cover - depends on the installation
    ray = None

# Training-epoch phase events a task sends per second at most (phase changes themselves always go).
PHASE_EVENTS_PER_S = 5.0
# How long a stopped experiment waits for its cancelled tasks to end (each stops at its next epoch
# boundary) before killing their workers: within the ~3 s the dashboard and headless mode give a stop.
CANCEL_GRACE_S = 2.0
# How long a cancelled task waits for its engine thread to reach that boundary before it ends anyway.
ENGINE_JOIN_S = 10.0


def _import_ray():
    if ray is None:
        raise BaltuiError("--workers / --address need Ray, which is not installed: pip install 'baltui[ray]'")
    return ray


def _node_local_caches() -> None:
    """numba's cache and the sparse head's kernel file on this node's own disk (a shared home directory
    would make nodes with different CPUs race over one cache). A folder set by the user or the node wins."""
    base = Path(tempfile.gettempdir()) / f"baltui-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    os.environ.setdefault("BALTUI_CACHE_DIR", str(base / "kernels"))
    os.environ.setdefault("NUMBA_CACHE_DIR", str(base / "numba"))


def run_task(
    config: RunConfig,
    dataset: Any,
    strategy: str,
    seed: int,
    resume: list[dict[str, Any]] | None,
    engine_factory: EngineFactory | None,
) -> Any:
    """The body of one Ray task (a generator): one run, streamed as plain records.

    Yields {"kind": "start", "pid", "node", "threads"} first, then {"kind": "phase", "event": PhaseChanged} and
    {"kind": "query", "result": QueryResult, "time": time.time()} as they happen. An error of the run is
    raised (Ray hands it to the driver as RayTaskError with the error as its cause).
    """
    _node_local_caches()
    if engine_factory is None:
        from baltui.core.engine import ActiveLearningRun

        engine_factory = ActiveLearningRun
    import ray

    yield {"kind": "start", "pid": os.getpid(), "node": socket.gethostname(),
           "node_id": ray.get_runtime_context().get_node_id(),
           "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES}}
    control = Control()
    records: queue.SimpleQueue = queue.SimpleQueue()
    last_epoch_event = [0.0]

    def on_phase(event: PhaseChanged) -> None:
        if event.phase == "training" and 0 < event.epoch < event.epochs:
            now = time.monotonic()
            if now - last_epoch_event[0] < 1.0 / PHASE_EVENTS_PER_S:
                return
            last_epoch_event[0] = now
        records.put(("phase", event))

    def body() -> None:
        try:
            for result in engine_factory(config, dataset, strategy, seed, control, on_phase, resume):
                records.put(("query", result))
            records.put(("end", None))
        except RunCancelled:
            records.put(("end", None))
        except BaseException as exc:  # noqa: B036 - handed to the relaying thread, which raises it
            records.put(("error", exc))

    engine = threading.Thread(target=body, name=f"baltui-{run_id(strategy, seed)}", daemon=True)
    engine.start()
    try:
        while True:
            try:  # a timeout, so a cancel's KeyboardInterrupt is raised here promptly
                kind, payload = records.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind == "query":
                yield {"kind": "query", "result": payload, "time": time.time()}
            elif kind == "phase":
                yield {"kind": "phase", "event": payload}
            elif kind == "error":
                raise payload
            else:
                return
    finally:  # cancelled (KeyboardInterrupt here, or the generator closed): stop the engine at its next epoch
        control.stop()
        engine.join(timeout=ENGINE_JOIN_S)


class RayExecutor:
    """Callable like baltui.executors.local.run_experiment; runs each (strategy, seed) run as one Ray task.

    Construct it on the main thread before the dashboard starts: it calls `ray.init` (a local instance,
    `address`, or $RAY_ADDRESS) unless Ray is already initialised. `workers` caps the tasks running at once
    (None: all runs at once, the cluster schedules them). `threads_per_run` sizes each worker's TensorFlow,
    numba and OpenMP pools (default: cores // workers locally, at least 1; 1 on a cluster).
    """

    def __init__(self, workers: int | None = None, address: str | None = None,
                 threads_per_run: int | None = None) -> None:
        ray = _import_ray()
        if workers is not None and workers < 1:
            raise BaltuiError(f"--workers must be at least 1, got {workers}")
        if threads_per_run is not None and threads_per_run < 1:
            raise BaltuiError(f"--threads-per-run must be at least 1, got {threads_per_run}")
        self.workers = workers
        self.joined = bool(address or os.environ.get("RAY_ADDRESS"))
        threads_per_run = threads_for(threads_per_run, workers, self.joined, on_ray=True)
        self.threads_per_run = threads_per_run
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if address:
                options["address"] = address
            elif not self.joined and workers and workers * threads_per_run > cores():
                options["num_cpus"] = workers * threads_per_run  # the user asked for N x T: let them all run
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or os.environ.get("RAY_ADDRESS")
                hint = ""
                if self.joined and not os.environ.get("RAY_AUTH_MODE"):
                    # Ray 2.5x clusters use token authentication by default; a joining driver sends its token
                    # only when told to.
                    hint = " (if the cluster uses token authentication, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN)"
                raise BaltuiError(f"cannot join Ray at {where}: {_describe(exc)}{hint}" if self.joined else
                                  f"cannot start Ray: {_describe(exc)}") from None
        self.session_dir = _session_dir()
        # Filled while running, for the curious (and tests): run id -> its task's start record (worker pid,
        # node, thread variables), and when each query left its worker (time.time() there) and reached emit.
        self.started: dict[str, dict[str, Any]] = {}
        self.produced_at: dict[tuple[str, int], float] = {}
        self.emitted_at: dict[tuple[str, int], float] = {}

    def placement(self) -> str:
        """Which Ray node ran which runs (one line per node), from the tasks' start records."""
        nodes: dict[str, list[str]] = {}
        for rid, start in sorted(self.started.items()):
            where = f"{start.get('node')} {str(start.get('node_id', ''))[:8]}".strip()
            nodes.setdefault(where, []).append(f"{rid} (pid {start.get('pid')})")
        return "\n".join(f"Ray node {where}: {', '.join(rids)}" for where, rids in nodes.items())

    def describe(self) -> str:
        limit = f"{self.workers} at a time" if self.workers else "all at once"
        logs = f"; Ray's logs in {self.session_dir}/logs" if self.session_dir else ""
        return f"Ray: one task per run, {limit}, {self.threads_per_run} thread(s) per run{logs}"

    def __call__(
        self,
        config: RunConfig,
        dataset: Any,
        out_dir: Path,
        emit: Emit,
        control: Control,
        engine_factory: EngineFactory | None = None,
        resume: dict[str, list[dict[str, Any]]] | None = None,
    ) -> dict[str, str]:
        """Run every (strategy, seed) run of `config` as a Ray task; returns each run's final state,
        plus "ray_session_dir": Ray's session folder (its logs are in logs/ there)."""
        todo, states = runs_to_do(config, resume)
        recorder = Recorder(config, out_dir, emit, states, resume)
        cpus = ray.cluster_resources().get("CPU", 1.0)
        task = ray.remote(run_task).options(
            num_cpus=min(self.threads_per_run, cpus),
            max_retries=0,
            runtime_env={"env_vars": thread_env(self.threads_per_run)},
            name="baltui-run",
        )
        limit = self.workers or max(len(todo), 1)
        pending = deque(todo)
        active: dict[Any, str] = {}  # generator -> run id
        last_query: dict[str, int] = {rid: max((r["query"] for r in queries or []), default=-1)
                                      for rid, _, _, queries in todo}
        data_ref = ray.put(dataset) if todo else None
        cancelled = False
        killed = False
        deadline = 0.0
        try:
            while pending or active:
                if control.stopped and not cancelled:
                    cancelled = True
                    deadline = time.monotonic() + CANCEL_GRACE_S
                    for gen in active:
                        ray.cancel(gen)
                    for rid, *_ in pending:
                        states[rid] = "cancelled"
                    pending.clear()
                if cancelled and not killed and time.monotonic() > deadline:
                    killed = True
                    for gen in active:
                        ray.cancel(gen, force=True)
                    deadline = time.monotonic() + CANCEL_GRACE_S
                elif killed and time.monotonic() > deadline:
                    break
                while pending and len(active) < limit and not control.paused:
                    rid, strategy, seed, queries = pending.popleft()
                    active[task.remote(config, data_ref, strategy, seed, queries, engine_factory)] = rid
                    states[rid] = "running"
                if not active:  # paused before anything started
                    time.sleep(0.1)
                    continue
                ready, _ = ray.wait(list(active), num_returns=1, timeout=0.1)
                for gen in ready:
                    self._take(gen, active, recorder, last_query, cancelled or control.stopped, config.queries)
        finally:
            for gen in active:  # only on an error of the driver itself, or tasks that would not end
                ray.cancel(gen, force=True)
                states[active[gen]] = "cancelled"
            recorder.close()
        if self.session_dir:
            states["ray_session_dir"] = self.session_dir
        emit(ExperimentFinished(cancelled=cancelled))
        return states

    def _take(self, gen: Any, active: dict[Any, str], recorder: Recorder, last_query: dict[str, int],
              cancelled: bool, queries: int) -> None:
        """Handle the next record (or the end) of one ready task."""
        rid = active[gen]
        try:
            ref = next(gen)
        except StopIteration:
            del active[gen]
            if cancelled and last_query.get(rid, -1) < queries:
                # A cancel can end the task's stream as if it had run out (the interrupt caught between two
                # records): a run short of its last query was stopped, not finished, and gets no run_finished.
                recorder.states[rid] = "cancelled"
            else:
                recorder.finished(rid)
            return
        try:
            item = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            del active[gen]
            recorder.states[rid] = "cancelled"
            return
        except ray.exceptions.RayTaskError as exc:  # the run raised: the same record as in process
            del active[gen]
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            if cancelled and isinstance(cause, KeyboardInterrupt | RunCancelled):
                recorder.states[rid] = "cancelled"
            else:
                recorder.failed(rid, _describe(cause))
            return
        except ray.exceptions.RayError as exc:  # the worker died (SIGKILL, OOM), the node was lost, ...
            del active[gen]
            if cancelled:
                recorder.states[rid] = "cancelled"
            else:
                recorder.failed(rid, f"Ray worker lost: {_describe(exc)}")
            return
        if item["kind"] == "query":
            result = item["result"]
            if result.query <= last_query[rid]:  # never write a query twice (tasks are never retried anyway)
                return
            last_query[rid] = result.query
            self.produced_at[(rid, result.query)] = item["time"]
            if recorder.query(result):  # a stop rule ended the run (finished with it): its task ends on its own
                del active[gen]
            self.emitted_at[(rid, result.query)] = time.time()
        elif item["kind"] == "phase":
            recorder.emit(item["event"])
        elif item["kind"] == "start":
            self.started[rid] = item


def _session_dir() -> str | None:
    """This driver's Ray session folder (Ray has no public API for it)."""
    try:
        from ray._private import worker

        return worker._global_node.get_session_dir_path()
    except Exception:  # noqa: BLE001 - only informative
        return None
