"""What every `lit-gemma` command shares: the parser that fails in one line,
the model arguments (a model loaded here or a running server), the
deletion-test arguments, and writing to --out or stdout."""

from __future__ import annotations

import argparse

from lit_gemma import errors
from lit_gemma.models import distribution as distribution_lib
from lit_gemma.models import loading

PROG = "lit-gemma"
FORMATS = ("text", "json", "html")


class Parser(argparse.ArgumentParser):
  """Bad arguments: one line on stderr and exit 2 (not argparse's usage)."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def span(value: str) -> tuple[int, int]:
  """--span START:END, target token indices."""
  start, sep, end = value.partition(":")
  try:
    if not sep:
      raise ValueError
    return int(start), int(end)
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"{value!r} is not START:END (target token indices)") from None


def model_arguments(parser) -> None:
  """--model or --server, and the settings of a model loaded here."""
  group = parser.add_argument_group("model")
  where = group.add_mutually_exclusive_group()
  where.add_argument("--model", default="embedded", metavar="SOURCE",
                     help="model source: 'embedded', a keras-hub preset, a "
                     "folder or a .gguf file (default: %(default)s)")
  where.add_argument("--server", metavar="URL",
                     help="use a running lit-gemma server instead of "
                     "loading a model")
  group.add_argument("--server-model", metavar="NAME",
                     help="the server's model (default: its only one)")
  group.add_argument("--methods", nargs="+", metavar="METHOD",
                     help="salience methods: grad_l2, grad_dot_input "
                     "(the default: both), integrated_gradients, loo_word, "
                     "loo_sentence, loo_line (leave-one-out), fit_word, "
                     "fit_sentence, fit_line (fitted random ablations), "
                     "greedy_word, greedy_sentence, greedy_line (greedy "
                     "deletion); "
                     "`lit-gemma methods` lists what each costs")
  group.add_argument("--steps", type=int, metavar="N",
                     help="quadrature nodes of integrated_gradients "
                     "(default: 16)")
  group.add_argument("--max-length", type=int,
                     default=loading.DEFAULT_MAX_LENGTH,
                     help="most tokens of prompt + target")
  group.add_argument("--max-new-tokens", type=int, default=64,
                     help="most tokens generated for a missing target")
  group.add_argument("--precision", choices=loading.PRECISIONS,
                     default="float32")
  group.add_argument("--batch-size", type=int, default=8,
                     help="texts per batched salience call")
  group.add_argument("--distribution", default="none",
                     help="'none', or 'model_parallel[:N]': split the model "
                     "over N devices (default N: all)")


def check_arguments(parser, granularity_default: str) -> None:
  """--granularity and the deletion test's --check, --k, --draws, --seed."""
  from lit_gemma.explain import segments  # pylint: disable=g-import-not-at-top

  parser.add_argument("--granularity",
                      choices=segments.GRANULARITIES + (segments.PART,),
                      default=granularity_default)
  parser.add_argument("--check", action="store_true",
                      help="also run the deletion test and the rank "
                      "correlation with ablation (explain/faithfulness.py)")
  parser.add_argument("--k", type=int, help="segments each deletion "
                      "removes (default: a fifth of them)")
  parser.add_argument("--draws", type=int, default=20,
                      help="random deletions (default: %(default)s)")
  parser.add_argument("--seed", type=int, default=0)


def check_options(args) -> dict:
  return {"k": args.k, "draws": args.draws, "seed": args.seed}


def backend(args, lm):
  """A model here (`lm`, else --model loaded) or the --server's."""
  from lit_gemma.cli import backends  # pylint: disable=g-import-not-at-top

  if args.server:
    from lit_gemma.cli import remote  # pylint: disable=g-import-not-at-top

    return backends.Served(remote.Remote(args.server, args.server_model))
  if args.server_model:
    raise errors.ConfigError("--server-model needs --server")
  for name in ("max_length", "max_new_tokens", "batch_size", "steps"):
    if getattr(args, name, None) is not None and getattr(args, name) < 1:
      raise errors.ConfigError(f"--{name.replace('_', '-')} must be >= 1")
  if lm is None:
    distribution_lib.parse(args.distribution)
    lm = loading.load_model(args.model, loading.ModelSettings(
        precision=args.precision, batch_size=args.batch_size,
        distribution=args.distribution))
  return backends.Local(lm, max_length=args.max_length,
                        max_new_tokens=args.max_new_tokens, steps=args.steps)


def write(args, text: str, stdout) -> None:
  """`text` to --out, else to stdout."""
  if args.out:
    try:
      with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    except OSError as e:
      raise errors.ConfigError(f"--out {args.out}: {e.strerror}") from None
  else:
    stdout.write(text)
