"""The per-query test metrics and `--batching`'s cuts, against numbers worked out by hand (numpy only).

Five test images, three classes (a fourth, class 3, has no test image):

    probabilities        label  argmax  right  top-class probability  its bin of 15, (lower, upper]
    0.70 0.20 0.10       0      0       yes    0.70                   10: (0.667, 0.733]
    0.20 0.50 0.30       2      1       no     0.50                    7: (0.467, 0.533]
    0.05 0.25 0.70       2      2       yes    0.70                   10
    0.30 0.62 0.08       0      1       no     0.62                    9: (0.600, 0.667]
    0.10 0.72 0.18       1      1       yes    0.72                   10
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from baltui.core import metrics
from baltui.core.events import QueryResult, event_from_record
from baltui.core.models.batching import batch_bounds, batch_sizes
from baltui.runs.folder import RunFolder

P = np.array([[0.70, 0.20, 0.10],
              [0.20, 0.50, 0.30],
              [0.05, 0.25, 0.70],
              [0.30, 0.62, 0.08],
              [0.10, 0.72, 0.18]], dtype=np.float32)
Y = np.array([0, 2, 2, 0, 1])
FIXTURE = Path(__file__).parent / "fixtures" / "before_layers" / "runs"


def test_nll_by_hand():
    by_hand = -(math.log(0.70) + math.log(0.30) + math.log(0.70) + math.log(0.30) + math.log(0.72)) / 5
    assert metrics.nll(P, Y) == pytest.approx(by_hand, rel=1e-6)


def test_nll_clips_a_zero_probability_at_1e_12():
    certain_and_wrong = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert metrics.nll(certain_and_wrong, np.array([1, 0])) == pytest.approx((-math.log(1e-12) - math.log(0.5)) / 2)


def test_ece_by_hand():
    # bin 10: three images, all right, mean confidence (0.70 + 0.70 + 0.72) / 3: |1 - 0.70667| weighted 3/5;
    # bin 7: one wrong image at 0.50, weighted 1/5; bin 9: one wrong image at 0.62, weighted 1/5
    by_hand = 3 / 5 * abs(1 - (0.70 + 0.70 + 0.72) / 3) + 1 / 5 * abs(0 - 0.50) + 1 / 5 * abs(0 - 0.62)
    assert by_hand == pytest.approx(0.4)
    assert metrics.ece(P, Y) == pytest.approx(by_hand, abs=1e-6)


def test_ece_weighs_each_bin_by_its_images_and_is_zero_when_calibrated():
    # five bins of 0.2: 0.62, 0.70, 0.70, 0.72 share (0.6, 0.8], right 3 of 4 times at mean confidence 0.685
    assert metrics.ece(P, Y, bins=5) == pytest.approx(4 / 5 * abs(3 / 4 - 0.685) + 1 / 5 * 0.50, abs=1e-6)
    # right 3 of 4 times at confidence 0.75: calibrated
    calibrated = np.array([[0.75, 0.25]] * 4)
    assert metrics.ece(calibrated, np.array([0, 0, 0, 1])) == pytest.approx(0.0, abs=1e-12)


def test_brier_by_hand():
    rows = [0.3 ** 2 + 0.2 ** 2 + 0.1 ** 2,
            0.2 ** 2 + 0.5 ** 2 + 0.7 ** 2,
            0.05 ** 2 + 0.25 ** 2 + 0.3 ** 2,
            0.7 ** 2 + 0.62 ** 2 + 0.08 ** 2,
            0.1 ** 2 + 0.28 ** 2 + 0.18 ** 2]
    assert sum(rows) / 5 == pytest.approx(0.41532)
    assert metrics.brier(P, Y) == pytest.approx(sum(rows) / 5, rel=1e-6)


def test_class_accuracy_and_counts_by_hand():
    # class 0: right once of twice; class 1: its one image right; class 2: one of two; class 3: no test image
    assert metrics.class_accuracy(P, Y, 4) == [0.5, 1.0, 0.5, None]
    assert metrics.class_counts(np.array([2, 0, 2, 2]), 4) == [1, 0, 3, 0]
    both = metrics.test_metrics(P, Y, 4)
    assert both["accuracy"] == pytest.approx(3 / 5)
    assert set(both) == {"accuracy", "nll", "ece", "brier", "class_accuracy"}


def test_fit_summary_rounds_to_five_significant_digits():
    summary = metrics.fit_summary([2.302585093, 0.000123456789], [0.1, 2 / 3], 2, 13)
    assert summary == {"loss": [2.3026, 0.00012346], "accuracy": [0.1, 0.66667], "epochs": 2, "last_batch": 13}
    assert metrics.significant(float("nan")) is None
    json.dumps(summary, allow_nan=False)


def test_even_batching_by_hand():
    assert batch_sizes(130, 128, "keep") == [128, 2]  # an epoch ending on two images
    assert batch_sizes(130, 128, "even") == [65, 65]
    assert batch_sizes(131, 128, "even") == [66, 65]
    assert batch_sizes(20, 16, "keep") == [16, 4] and batch_sizes(20, 16, "even") == [10, 10]
    assert batch_sizes(256, 128, "even") == batch_sizes(256, 128, "keep") == [128, 128]
    assert batch_sizes(5, 128, "even") == batch_sizes(5, 128, "keep") == [5]
    assert batch_sizes(0, 16) == []
    assert batch_bounds(130, 128, "even").tolist() == [0, 65, 130]
    assert batch_bounds(130, 128).tolist() == [0, 128, 130]
    with pytest.raises(ValueError, match="keep, even"):
        batch_sizes(10, 4, "uneven")


@pytest.mark.parametrize("batch", [1, 3, 16, 64, 128])
def test_even_batches_cover_the_epoch_in_as_many_batches_as_keep_with_sizes_one_apart(batch):
    for images in range(1, 300):
        even, keep = batch_sizes(images, batch, "even"), batch_sizes(images, batch, "keep")
        assert sum(even) == sum(keep) == images and len(even) == len(keep) == math.ceil(images / batch)
        assert max(even) - min(even) <= 1 and max(even) <= batch
        assert keep[:-1] == [batch] * (len(keep) - 1)


def test_a_record_carries_the_new_fields_through_the_event_and_back():
    result = QueryResult("bald-s0", "bald", 0, 1, 30, 100, 0.6, 0.1, 0.2, 0.3, [4], [1], [0.5],
                         nll=1.25, ece=0.05, brier=0.5, class_accuracy=[0.5, None], labelled_per_class=[20, 10],
                         fit={"loss": [2.3, 1.1], "accuracy": [0.1, 0.6], "epochs": 2, "last_batch": 14})
    record = json.loads(json.dumps({"type": "query", **result.to_record()}))
    back = event_from_record(record)
    assert back == result


def test_records_written_before_the_metrics_still_read_as_events():
    folder = RunFolder.open(FIXTURE)
    queries = [e for e in folder.events() if isinstance(e, QueryResult)]
    assert len(queries) == 48
    assert all(q.nll is None and q.fit is None and q.class_accuracy is None and q.labelled_per_class is None
               for q in queries)
