"""Starts the lit-gemma prompt-debugging server: `python launch.py --help`.

Thin on purpose: everything lives in `lit_gemma.serve.entry`, which gunicorn and
the notebook widget share.
"""

from absl import app
from absl import flags
from lit_nlp import server_flags

from lit_gemma.serve import config_flags
from lit_gemma.serve import entry

config_flags.define_flags()
# --helpshort lists lit-gemma's flags and LIT's server flags.
flags.adopt_module_key_flags(config_flags)
flags.adopt_module_key_flags(server_flags)

if __name__ == "__main__":
  app.run(entry.main, flags_parser=entry.parse_flags)
