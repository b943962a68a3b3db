"""The bench's per-strategy rows: every new strategy and BALD timed through QueryStrategy on a real model."""

from __future__ import annotations

import numpy as np

from baltui.commands.bench_strategies import STRATEGY_ROWS, strategy_costs, strategy_rows


def test_each_strategy_is_timed_on_the_subset_beside_bald(digits):
    from baltui.core.models.classifier import MCDropoutClassifier

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=2, batch_size=32)
    clf.fit(digits.x_pool[:60], digits.y_pool[:60])
    costs = strategy_costs(clf, digits.x_pool[100:250], digits.x_pool[:60], T=5, instances=10, repeats=1,
                           epig_targets=20)
    assert tuple(costs) == STRATEGY_ROWS and clf.mc_masks == "independent"  # the mask mode is put back
    for name, cost in costs.items():
        assert cost["s"] > 0 and cost["images"] == 150 and cost["distinct"] == 10, name
    assert costs["epig"]["masks"] == "consistent" and costs["epig"]["epig_targets"] == 20
    assert costs["bald"]["masks"] == "independent" and costs["badge"]["masks"] is None
    rows = strategy_rows(costs, training_s=1e9)
    assert [r[0] for r in rows][:2] == ["acquire, bald (150 images)", "acquire, least_confidence (150 images)"]
    assert rows[5][0] == "acquire, epig (150 images, 20 targets)"
    assert all(r[3].endswith("[green]met[/]") for r in rows) and "x bald" in rows[1][3]
    assert all(r[3].endswith("[red]not met[/]") for r in strategy_rows(costs, training_s=0.0))
    assert np.isfinite([c["s"] for c in costs.values()]).all()
