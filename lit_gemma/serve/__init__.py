"""The server: settings, flags, building the LIT app, preparing responses,
and the entry points of `launch.py` and gunicorn."""
