"""The base of every error a user can act on: the `movielake` command prints its message as one
line, without a traceback, and exits 1."""


class MovieLakeError(RuntimeError):
    """A failure whose message tells the user what went wrong and what to do."""
