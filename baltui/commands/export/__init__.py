"""`baltui export RUN_DIR --format tensorboard|mlflow --to WHERE`: a run folder into an experiment tracker."""
