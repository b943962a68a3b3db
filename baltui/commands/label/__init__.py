"""`baltui label`: the person is the oracle. The session state is UI-free (session.py); the screen only shows it."""
