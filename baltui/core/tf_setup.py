"""Import TensorFlow quietly, once, only where it is needed.

TensorFlow takes seconds to import and prints oneDNN/CUDA notices from C++ before any Python
logging setting applies, so the CLI imports it lazily and this module hides the import-time noise
by pointing file descriptor 2 at /dev/null for the duration of the import only.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import ModuleType

_tf: ModuleType | None = None


def quiet_tensorflow() -> ModuleType:
    """Import (once) and return tensorflow with its start-up notices and log chatter silenced."""
    global _tf
    if _tf is not None:
        return _tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tensorflow as tf

            tf.constant(0)  # the CUDA/oneDNN notices come at the first op, not only at import
            import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tf.get_logger().setLevel("ERROR")
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    _tf = tf
    return tf


def load_before_the_screen() -> None:
    """Import TensorFlow on the main thread before a Textual screen starts.

    Why: the quiet import points fd 2 at /dev/null for a few seconds, and Textual draws on fd 2: an
    import inside the app's worker thread would swallow the screen's output meanwhile, and a quit in
    that window could leave the terminal in the alternate screen. One line says what the wait is.
    """
    if _tf is None:
        print("baltui: loading TensorFlow...", file=sys.stderr, flush=True)
        quiet_tensorflow()
