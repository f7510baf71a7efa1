"""What `evaluate` and `regressions` share: a checkpoint loaded from a
source, its responses generated the way the server generates them (its
generation model and response cache, so a response is generated once for
both), and a dataset read for it (a dynamic template's classification
prompt answered by that checkpoint)."""

from __future__ import annotations

from lit_gemma import errors
from lit_gemma.models import loading


def settings_arguments(parser) -> None:
  """The generation and length settings (the server's defaults)."""
  parser.add_argument("--max-length", type=int,
                      default=loading.DEFAULT_MAX_LENGTH,
                      help="most tokens of prompt + target")
  parser.add_argument("--max-new-tokens", type=int, default=64,
                      help="most tokens generated per response (the "
                      "server's --max_new_tokens)")
  parser.add_argument("--precision", choices=loading.PRECISIONS,
                      default="float32")
  parser.add_argument("--allow_contamination", action="store_true",
                      help="go on when evaluation rows leaked into what "
                      "shapes the prompt or the model (listed as warnings)")


def check_settings(args) -> None:
  for name in ("max_length", "max_new_tokens"):
    if getattr(args, name) < 1:
      raise errors.ConfigError(f"--{name.replace('_', '-')} must be >= 1")


def load(source: str, args):
  """The GemmaLM of `source` (a UserError in one line if it cannot load)."""
  return loading.load_model(source, loading.ModelSettings(
      precision=args.precision))


class Checkpoint:
  """A loaded model with the server's generation path and response cache."""

  def __init__(self, lm, args, cache=None):
    # pylint: disable=g-import-not-at-top
    from lit_gemma.lit import model_groups
    from lit_gemma.lit import response_cache
    # pylint: enable=g-import-not-at-top
    self.lm = lm
    self.max_length = args.max_length
    self.cache = response_cache.ResponseCache() if cache is None else cache
    self._generation = model_groups.GenerationModel(
        lm, model_groups.GroupSettings(max_length=args.max_length,
                                       max_new_tokens=args.max_new_tokens,
                                       embeddings=False), self.cache)

  @property
  def name(self) -> str:
    return self.lm.source.spec if self.lm.source else "in-memory model"

  def responses(self, prompts: list[str]) -> list[str]:
    return self._generation.responses(prompts)

  def examples(self, path: str) -> list[dict]:
    """The dataset's datapoints for this checkpoint (its chat format; a
    dynamic template's classification prompt answered by it)."""
    # pylint: disable=g-import-not-at-top
    from lit_gemma.evaluation import routing
    from lit_gemma.lit import datasets
    # pylint: enable=g-import-not-at-top
    classify = routing.Classifier(self.lm, self.cache, self.max_length)
    return list(datasets.load(path, chat_format_names=(self.lm.chat_format,),
                              classify=classify).examples)
