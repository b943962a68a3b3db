"""Ways to run an experiment's (strategy, seed) grid, all with baltui.executors.local.run_experiment's signature.

The in-process executor is run_experiment itself (the default; it never imports Ray).
`baltui.executors.ray_executor.RayExecutor` runs one Ray task per run (`--workers N`, `--address ADDR`);
import it only when asked for, so the default path never loads Ray.
"""
