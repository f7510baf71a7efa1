"""The command line: `lit-gemma` / `python -m lit_gemma` and its commands."""
