"""MC-dropout sampling of a model's stochastic head, for `baltui.core.models.classifier.MCDropoutClassifier`.

layers.py       where the stochastic head starts, and which head shapes the fast samplers handle
masks.py        keep masks from fewer random bits, compact rows, seed pairs
independent.py  a mask per (sample, point, feature): the tiled, compact and sparse heads and the choice
consistent.py   one mask per sample for every point (BatchBALD): why, and the numpy head (no TensorFlow)
consistent_tf.py  the consistent-mask sampler: masks drawn once per call, numpy head or TensorFlow head
"""
