"""baltui: deep Bayesian active learning on images, watched live in the terminal."""

__version__ = "0.1.0"
