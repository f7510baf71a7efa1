"""The package keeps the shape ARCHITECTURE.md draws: every import goes down
its layer table (imports inside functions and under TYPE_CHECKING count: a
circle dodged is still a circle), no import circle, no LIT import where the
table forbids it, a short top level and short modules."""

import ast
import pathlib
import re

import pytest

import repo

PACKAGE = repo.ROOT / "lit_gemma"
MOST_TOP_LEVEL_MODULES = 12
MOST_LINES = 400


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(repo.ROOT).with_suffix("").parts
  if parts[-1] == "__init__":
    parts = parts[:-1]
  return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
  return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: pathlib.Path,
             modules) -> tuple[set[str], set[str]]:
  """(lit_gemma modules, top-level third-party packages) that `path`
  imports anywhere in its body."""
  ours, theirs = set(), set()
  is_package = path.name == "__init__.py"
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      targets = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        here = name.split(".")
        keep = len(here) - node.level + (1 if is_package else 0)
        base = ".".join(here[:keep] + ([base] if base else []))
      # `from pkg import mod` imports the module; `from mod import name`
      # imports mod.
      targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules
                 else base for a in node.names]
    else:
      continue
    for target in targets:
      if target == "lit_gemma" or target.startswith("lit_gemma."):
        while target not in modules:
          target = target.rsplit(".", 1)[0]
        ours.add(target)
      else:
        theirs.add(target.split(".")[0])
  ours.discard(name)
  return ours, theirs


def _graph():
  modules = _modules()
  return {name: _imports(name, path, modules)
          for name, path in modules.items()}


def _layer_table(text: str) -> list[dict]:
  """ARCHITECTURE.md's table: one dict per layer."""
  rows, table = [], False
  for line in text.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if cells[:2] == ["layer", "packages"]:
      table = True
      continue
    if not table:
      continue
    if not line.startswith("|"):
      break
    if set(cells[0]) <= {"-"}:
      continue
    words = lambda cell: [w.strip() for w in cell.split(",") if w.strip()]
    rows.append({"layer": cells[0],
                 "packages": re.findall(r"`([\w.]+)`", cells[1]),
                 "may": set(words(cells[2])),
                 "never": set(re.findall(r"`([\w.]+)`", cells[3]))})
  assert rows, "ARCHITECTURE.md has no `| layer | packages |` table"
  return rows


def _layer_of(module: str, table: list[dict]) -> dict | None:
  best, length = None, -1
  for row in table:
    for package in row["packages"]:
      if ((module == package or module.startswith(package + "."))
          and len(package) > length):
        best, length = row, len(package)
  return best


def _circles(graph) -> list[list[str]]:
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in graph[v][0]:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return found


def _violations(graph, table) -> list[str]:
  found = []
  for module, (ours, theirs) in sorted(graph.items()):
    layer = _layer_of(module, table)
    if layer is None:
      found.append(f"{module}: in no layer of ARCHITECTURE.md's table")
      continue
    for target in sorted(ours):
      other = _layer_of(target, table)
      if other is None or other is layer:
        continue
      if other["layer"] not in layer["may"]:
        found.append(f"{module} ({layer['layer']}) imports {target} "
                     f"({other['layer']})")
    for package in sorted(theirs & layer["never"]):
      found.append(f"{module} ({layer['layer']}) imports {package}")
  return found


# Each front end, by its modules (`python -m lit_gemma` is the CLI).
FRONT_ENDS = {"lit_gemma.cli": "cli", "lit_gemma.__main__": "cli",
              "lit_gemma.notebook": "notebook"}


def _front_end(module: str) -> str | None:
  return next((f for p, f in FRONT_ENDS.items()
               if module == p or module.startswith(p + ".")), None)


def test_every_import_goes_down_the_layer_table():
  table = _layer_table((repo.ROOT / "ARCHITECTURE.md").read_text())
  assert _violations(_graph(), table) == []


def test_no_front_end_imports_another():
  crossed = [f"{m} imports {t}" for m, (ours, _) in _graph().items()
             for t in ours
             if _front_end(m) and _front_end(t)
             and _front_end(m) != _front_end(t)]
  assert crossed == []


def test_no_import_circle():
  assert _circles(_graph()) == []


def test_the_checks_catch_what_they_guard():
  # The walker sees imports inside functions and under TYPE_CHECKING, the
  # table check refuses an import up a layer, and a circle is found.
  table = _layer_table((repo.ROOT / "ARCHITECTURE.md").read_text())
  graph = _graph()
  assert "lit_gemma.explain.explanation" in graph[
      "lit_gemma.explain.ablation"][0]  # under TYPE_CHECKING
  bad = dict(graph)
  bad["lit_gemma.salience.engine"] = (
      graph["lit_gemma.salience.engine"][0] | {"lit_gemma.models.lm"},
      graph["lit_gemma.salience.engine"][1] | {"lit_nlp"})
  assert _violations(bad, table) == [
      "lit_gemma.salience.engine (engine) imports lit_gemma.models.lm "
      "(models)",
      "lit_gemma.salience.engine (engine) imports lit_nlp"]
  assert _circles(bad) != []


@pytest.mark.parametrize("module", sorted(_modules()))
def test_module_is_short(module):
  lines = len(_modules()[module].read_text().splitlines())
  assert lines <= MOST_LINES, f"{module}: {lines} lines"


def test_few_modules_at_the_top_level():
  top = sorted(p.name for p in PACKAGE.glob("*.py"))
  assert len(top) <= MOST_TOP_LEVEL_MODULES, top


def test_no_subpackage_shadows_an_installed_or_standard_name():
  import importlib.util  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  packages = [p.name for p in PACKAGE.iterdir()
              if (p / "__init__.py").is_file()]
  def installed(name):  # a namespace folder (a test folder) is not
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.origin is not None

  taken = [p for p in packages
           if p in sys.stdlib_module_names or installed(p)]
  assert taken == []
