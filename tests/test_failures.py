"""A failing run is recorded with its reason while the others carry on; output problems are one line."""

from __future__ import annotations

from fakes import FakeEngine
from rich.console import Console

from baltui.cli import main
from baltui.commands.run.headless import run_headless
from baltui.runs.results import curves, prepare_out_dir, read_records

# The shared fake engine; the 'entropy' run hits a NaN loss at query 2.
fake_engine = FakeEngine(epochs=0, fail="entropy")


def test_one_failing_run_does_not_stop_the_others(tmp_path, tiny, digits):
    config = tiny(queries=4)
    out = tmp_path / "run"
    prepare_out_dir(out, config.to_dict())
    console = Console(file=open(tmp_path / "log.txt", "w"), width=120)  # noqa: SIM115
    code = run_headless(config, digits, out, engine_factory=fake_engine, console=console)
    console.file.close()
    assert code == 1  # non-zero: a run failed
    runs = curves(read_records(out))
    assert runs["entropy-s0"].failed.startswith("FloatingPointError: training loss is not finite")
    assert len(runs["entropy-s0"].accuracy) == 2  # queries 0 and 1 kept
    assert runs["uniform-s0"].finished and len(runs["uniform-s0"].accuracy) == 5
    log = (tmp_path / "log.txt").read_text()
    assert "[entropy-s0] failed: FloatingPointError" in log and "(failed)" in log


def test_unwritable_out_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--no-ui", "--out", str(blocker / "sub"), "--queries", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write to output folder" in err[0]
    assert main(["--no-ui", "--out", str(blocker), "--queries", "1"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
