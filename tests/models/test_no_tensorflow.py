"""TensorFlow stays out: not installed (1.9 GB of the venv, see
overrides.txt) and not imported by the model stack (1.1 GB and seconds of
import time before a weight is read)."""

import subprocess
import sys

import tiny_models


def _run(code: str) -> str:
  """Runs `code` in a fresh interpreter of this environment."""
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-2000:]
  return done.stdout.strip()


def test_tensorflow_is_not_installed():
  found = _run(
      "import importlib.util as u; print([m for m in "
      "('tensorflow', 'tensorflow_text') if u.find_spec(m)])")
  assert found == "[]", (
      f"installed in {sys.prefix}: {found}; `make clean setup` reinstalls "
      "without them (overrides.txt)")


def test_loading_and_running_a_model_imports_no_tensorflow(tmp_path):
  """A preset folder loads and generates through the product's path with
  TensorFlow's import blocked (so the check holds in a venv that has it).
  Gemma 3: its keras-hub preprocessor is the one that needs TensorFlow."""
  folder = tiny_models.save_preset("gemma3", tmp_path / "gemma3")
  out = _run(
      "import sys\n"
      "sys.modules['tensorflow'] = sys.modules['tensorflow_text'] = None\n"
      "from lit_gemma.models import loading\n"
      f"lm = loading.load_model({str(folder)!r})\n"
      "text = lm.generate(['Paris is'], 3)[0]\n"
      "print(type(text).__name__, lm.encode('Paris')[0] == lm.bos_id,\n"
      "      sorted(m for m in sys.modules if m.split('.')[0] in\n"
      "             ('tensorflow', 'tensorflow_text') and sys.modules[m]))\n")
  assert out.splitlines()[-1] == "str True []"
