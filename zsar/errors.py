"""User-facing errors.

Every mistake a user can make (a wrong path, an unknown name, a cache made with other
settings) raises a ``ZsarError`` whose message names the value and the fix. The CLI prints
such errors as one line and exits with status 2; anything else is a bug and keeps its
traceback.
"""


class ZsarError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""


class UnknownNameError(ZsarError, LookupError):
    """A registry lookup for a name that is not registered."""


class MissingExtraError(ZsarError):
    """An optional dependency (an extra such as torchvision) is not installed; the message says how to get it."""


def check_choice(what: str, value: object, choices: "tuple[str, ...] | list[str]") -> None:
    """Refuse ``value`` unless it is one of ``choices``: ``"{what} {value!r} is not one of a, b, c"``."""
    if value not in choices:
        raise ZsarError(f"{what} {value!r} is not one of {', '.join(choices)}")
