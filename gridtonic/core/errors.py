"""Errors a user can fix, raised by any command and printed by the CLI as one line."""


class UserError(Exception):
    """Something the user can fix; printed as one line."""
