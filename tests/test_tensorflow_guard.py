"""An installed TensorFlow stays out of what lit-gemma imports (keras-hub
and LIT import it when they can), while a notebook's own import of it
works: checked with a stand-in `tensorflow` package on the path, in a
fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import repo

_PROBE = """
import sys
import lit_gemma  # installs the guard
import types

def imported_by(module_name):
  # Runs `import tensorflow` as code of module `module_name`.
  sys.modules.pop("tensorflow", None)
  code = compile("import tensorflow", "<probe>", "exec")
  try:
    exec(code, {"__name__": module_name})
    return "imported"
  except ModuleNotFoundError as e:
    return str(e)

print(imported_by("keras_hub.src.tokenizers.sentence_piece_tokenizer"))
print(imported_by("lit_nlp.components"))
print(imported_by("keras.src.utils"))
print(imported_by("__main__"))
"""


def test_tensorflow_is_kept_out_of_keras_hub_and_lit_only(tmp_path):
  fake = tmp_path / "tensorflow"
  fake.mkdir()
  (fake / "__init__.py").write_text("")  # A stand-in TensorFlow.
  done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True,
                        text=True, timeout=120, check=True,
                        env={"PYTHONPATH": f"{tmp_path}:{repo.ROOT}",
                             "PATH": "/usr/bin:/bin"})
  refused = ("No module named 'tensorflow' (lit-gemma keeps TensorFlow "
             "out)")
  assert done.stdout.splitlines() == [refused, refused, refused, "imported"]
