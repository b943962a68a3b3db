"""baltui plug-ins by example: an acquisition function, a model and a data set, found through entry points."""
