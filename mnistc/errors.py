"""The one exception type users see: its message is printed, without a traceback."""


class MnistcError(Exception):
    """A problem with the user's input or environment, described in its message."""
