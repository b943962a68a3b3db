"""bfloat16 evaluation with float32 rechecks: the labels must be float32's, whatever the CPU.

Without AMX the twin runs slower, not differently, so these tests force it on any machine.
"""

from __future__ import annotations

import numpy as np

from baltui.checked_eval import RECHECK_GAP
from baltui.model import MCDropoutClassifier


def test_checked_labels_equal_float32_labels_after_each_fit(digits):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=4, batch_size=32)
    for n in (60, 400):  # the twin must follow the weights of every new fit
        clf.rng = np.random.default_rng(n)
        clf.fit(digits.x_pool[:n], digits.y_pool[:n])
        clf.eval_precision = "float32"
        want = clf.predict(digits.x_test)
        acc32 = clf.score(digits.x_test, digits.y_test)
        clf.eval_precision = "bfloat16"
        got = clf.predict(digits.x_test)
        assert np.array_equal(got, want)
        assert clf.score(digits.x_test, digits.y_test) == acc32
        rechecked = clf._checked.last_rechecked
        assert 0 <= rechecked <= len(digits.y_test)
        # the rechecked ones are exactly the close calls of the bfloat16 pass
        probs = clf._checked._infer(digits.x_test.astype(np.float32)).numpy()
        top2 = np.sort(probs, axis=1)[:, -2:]
        assert rechecked == int((top2[:, 1] - top2[:, 0] < RECHECK_GAP).sum())


def test_auto_keeps_float32_for_small_sets(digits):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=32)
    clf.fit(digits.x_pool[:50], digits.y_pool[:50])
    clf.predict(digits.x_test)  # 497 images: below CHECKED_MIN_IMAGES
    assert clf._checked is None
