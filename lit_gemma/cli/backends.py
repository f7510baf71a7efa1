"""Where the CLI's explanations come from: a model loaded in this process,
or a running lit-gemma server (remote.py). Both give explain/api.py's
Explanation, so the CLI's commands do not care which."""

from __future__ import annotations

from collections.abc import Sequence

from lit_gemma import errors
from lit_gemma import explain as explain_lib
from lit_gemma.explain import faithfulness


class Local:
  """A loaded `GemmaLM`."""

  def __init__(self, lm, *, max_length: int | None, max_new_tokens: int,
               steps: int | None = None):
    self.lm = lm
    self.max_length = max_length
    self.max_new_tokens = max_new_tokens
    self.steps = steps
    self.batch_size = lm.engine.max_batch
    self.progress = None  # progress(done, total) of long maps and checks

  @property
  def methods(self) -> tuple[str, ...]:
    return tuple(self.lm.engine.methods)

  def explain(self, items: Sequence[explain_lib.Item],
              methods: Sequence[str] | None = None
              ) -> list[explain_lib.Explanation]:
    return explain_lib.explain_many(self.lm, items, methods=methods,
                                    max_length=self.max_length,
                                    steps=self.steps, progress=self.progress)

  def generate(self, prompts: Sequence[str]) -> list[str]:
    return self.lm.generate(prompts, self.max_new_tokens)

  def check(self, exp, granularity: str, **options):
    return faithfulness.check(self.lm, exp, granularity,
                              max_length=self.max_length,
                              progress=self.progress, **options)


class Served:
  """A lit-gemma server's model group (`--server URL`)."""

  batch_size = 8

  def __init__(self, remote):
    self.remote = remote

  @property
  def methods(self) -> tuple[str, ...]:
    return self.remote.methods

  def explain(self, items, methods=None):
    return [self.remote.explain(item, methods) for item in items]

  def generate(self, prompts):
    return self.remote.generate(prompts)

  def check(self, exp, granularity, **options):
    raise errors.ConfigError(
        "--check scores the text with segments removed, which a server does "
        "not offer: run it without --server")
