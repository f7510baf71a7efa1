"""The model layer: what a source string means, loading each Gemma once,
`GemmaLM` (tokens, generation, salience), devices, memory and warm-up."""
