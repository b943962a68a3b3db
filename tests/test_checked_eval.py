"""bfloat16 evaluation with float32 rechecks: the labels must be float32's, whatever the CPU.

Without AMX the twin runs slower, not differently, so these tests force it on any machine.
"""

from __future__ import annotations

import numpy as np

from baltui.core.models.checked_eval import RECHECK_GAP
from baltui.core.models.classifier import MCDropoutClassifier


def test_checked_labels_equal_float32_labels_after_each_fit(digits):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=4, batch_size=32)
    counts = []
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
        counts.append(rechecked)
        # the rechecked ones are exactly the close calls of the bfloat16 pass
        probs = clf._checked._infer(digits.x_test.astype(np.float32)).numpy()
        top2 = np.sort(probs, axis=1)[:, -2:]
        assert rechecked == int((top2[:, 1] - top2[:, 0] < RECHECK_GAP).sum())
        # ...of a twin carrying this fit's weights: its probabilities are float32's up to bfloat16 rounding (at most
        # the ~0.005 = RECHECK_GAP / 20 the module measured; ~0.001 here). A stale twin fails only this: its close
        # calls are all rechecked, so the labels above come out equal anyway
        assert np.abs(probs - clf.predict_proba(digits.x_test)).max() < RECHECK_GAP / 20
    # both halves of the mix ran: after 400 labels some calls were close (float32 decided them) and the rest kept
    # bfloat16's argmax; had every image or none been rechecked, the equalities above would not test the mix
    assert 0 < counts[-1] < len(digits.y_test), counts


def test_auto_keeps_float32_for_small_sets(digits):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=32)
    clf.fit(digits.x_pool[:50], digits.y_pool[:50])
    clf.predict(digits.x_test)  # 497 images: below CHECKED_MIN_IMAGES
    assert clf._checked is None
