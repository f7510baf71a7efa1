"""`lit-gemma methods`: the salience methods of the registry, with what each
one is and costs, so a user can choose between a fast map and a faithful
one without reading the code."""

from __future__ import annotations


def register(commands) -> None:
  p = commands.add_parser(
      "methods", help="list the salience methods and what each costs",
      description="The salience methods of explain/registry.py: kind, "
      "sign, granularity and cost.")
  p.set_defaults(run=run)


def run(args, *, lm, stdout, stderr) -> None:
  del args, lm, stderr
  from lit_gemma.explain import registry  # pylint: disable=g-import-not-at-top

  for method in registry.METHODS.values():
    if not method.signed:
      sign = "unsigned"
    elif method.support_sign > 0:
      sign = "signed, positive: the target relies on it"
    else:
      sign = "signed, negative: the target relies on it (LIT's sign)"
    default = " (default)" if method.name == registry.DEFAULT_METHOD else ""
    stdout.write(f"{method.name}{default}\n  {method.description}\n"
                 f"  {method.kind}; {sign}; granularity {method.granularity};"
                 f" cost: {method.cost}\n")
