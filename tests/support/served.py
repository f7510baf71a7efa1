"""A real LIT app served over HTTP inside the test process, and the small
prompt set the server tests share."""

from __future__ import annotations

import contextlib
import json
import pathlib
import threading

from lit_gemma.serve import build
from lit_gemma.serve import config as config_lib
from lit_gemma.serve import dev_server

PROMPTS = [
    {"prompt": "The capital of France is", "target": " Paris."},
    {"prompt": "Water is made of", "target": " hydrogen and oxygen."},
    {"prompt": "Bees dance to show", "target": " where flowers are."},
]
MAX_LENGTH = 64
MAX_NEW_TOKENS = 8


def lit_model_names(name: str = "tiny") -> set[str]:
  """Every LIT model a server with one Gemma `name` and the default
  settings serves: its group, each method group's three models, and the
  scoring, evaluation and verdict columns."""
  from lit_gemma.lit import group_kinds  # pylint: disable=g-import-not-at-top

  names = {name, f"_{name}_tokenizer", f"_{name}_salience",
           f"{name}_scores", f"{name}_eval", f"{name}_verdicts"}
  for suffix in group_kinds.DEFAULT:
    group = group_kinds.group_name(name, suffix)
    names |= {group, f"_{group}_tokenizer", f"_{group}_salience"}
  return names


def write_jsonl(path: pathlib.Path, rows) -> pathlib.Path:
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  return path


class Served:
  """A `build_app` app served over HTTP in this process."""

  def __init__(self, app):
    self.app = app
    self._server = dev_server.make_server(app, "127.0.0.1", 0)
    self.url = f"http://127.0.0.1:{self._server.port}"
    self._thread = threading.Thread(target=self._server.serve_forever,
                                    daemon=True)
    self._thread.start()

  def close(self):
    self._server.shutdown()
    self._server.server_close()


@contextlib.contextmanager
def served(config, **build_kw):
  served = Served(build.build_app(config, **build_kw))
  try:
    yield served
  finally:
    served.close()


def server_config(preset, prompts_file, **kw) -> config_lib.ServerConfig:
  """The test servers' settings: the tiny model, the prompts, no warm-up."""
  settings = dict(models=(("tiny", str(preset)),),
                  datasets=(("prompts", str(prompts_file)),),
                  max_length=MAX_LENGTH, max_new_tokens=MAX_NEW_TOKENS,
                  batch_size=2, warm_up=False)
  return config_lib.ServerConfig(**(settings | kw))
