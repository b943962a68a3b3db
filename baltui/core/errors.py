"""Errors that reach the user as one line and exit code 2, never as a traceback."""


class BaltuiError(Exception):
    """A problem with the user's input: the message says what was wrong and what to do."""


class RunCancelled(Exception):
    """Raised inside a run when the user asked it to stop; the query in progress is dropped."""
