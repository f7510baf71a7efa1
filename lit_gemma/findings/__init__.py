"""Findings: datapoints a teammate kept, with a note, an author and a time,
stored one file each and shared by everyone on a server (store.py), and
exported for reading elsewhere (export.py). Nothing here imports LIT."""
