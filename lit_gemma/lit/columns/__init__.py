"""Extra data-table columns: LIT models and annotators computed beside the
UI's requests, never in their way."""
