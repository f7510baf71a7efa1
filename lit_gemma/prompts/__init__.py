"""Prompt data: files read row by row with file:line errors, templates and
their parts, chat formats."""
