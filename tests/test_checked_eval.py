"""bfloat16 evaluation with float32 rechecks: the labels must be float32's, whatever the CPU.

Without AMX the twin runs slower, not differently, so these tests force it on any machine.
"""

from __future__ import annotations

import numpy as np

from baltui.core.models.checked_eval import RECHECK_GAP
from baltui.core.models.classifier import EvaluationInfo, MCDropoutClassifier


def test_checked_labels_equal_float32_labels_after_each_fit(digits):
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=4, batch_size=32)
    counts = []
    for n in (60, 400):  # the twin must follow the weights of every new fit
        clf.rng = np.random.default_rng(n)
        clf.fit(digits.x_pool[:n], digits.y_pool[:n])
        want = clf.predict(digits.x_test, precision="float32")
        assert clf.last_evaluation == EvaluationInfo(len(digits.x_test), "float32", 0)
        acc32 = clf.score(digits.x_test, digits.y_test, precision="float32")
        got = clf.predict(digits.x_test, precision="bfloat16")
        assert np.array_equal(got, want)
        assert clf.score(digits.x_test, digits.y_test, precision="bfloat16") == acc32
        assert clf.last_evaluation.precision == "bfloat16"
        rechecked = clf.last_evaluation.rechecked
        counts.append(rechecked)
        # the rechecked ones are exactly the close calls of the bfloat16 pass
        probs = clf.predict_proba(digits.x_test, precision="bfloat16")
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
    assert clf.last_evaluation.precision == "float32" and not clf.checks_bfloat16(len(digits.x_test))
