"""LIT adapters: the LIT app, its models, datasets and layouts, and every
override of LIT's internals."""
