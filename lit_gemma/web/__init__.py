"""What crosses the wire: requests checked before LIT runs them, bounds,
host names, and answers with finite JSON and nothing private."""
