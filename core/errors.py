"""The one exception type the CLI turns into a one-line message and an exit code."""

from __future__ import annotations


class NexaraError(Exception):
    """A user-facing problem: the message is one line and names the file and the problem."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
