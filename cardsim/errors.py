"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""


class CardsimError(Exception):
    """Bad input: a missing or malformed file, an invalid scenario key, unusable keys.

    The message is complete and user-facing: it names the file, key or row and what was expected.
    """

    exit_code = 2


class ScenarioError(CardsimError):
    """A scenario file or override is invalid."""


def one_line(text: object) -> str:
    """Collapse whitespace (e.g. SQL quoted in an SQLite error) so a message stays on one line."""
    return " ".join(str(text).split())
