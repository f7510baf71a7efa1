"""One base class for every error whose message is written for the user.

Front ends (the server, the notebook, the CLI) catch `UserError` and show its
message as it is (one line); anything else is a bug and is logged with its
traceback.
"""


class UserError(ValueError):
  """An error whose message is one line meant for the user."""
