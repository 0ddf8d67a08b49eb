"""`python -m ae_vae <command>`: the library's commands (`ae_vae.cli`)."""

import sys

from .cli import main

sys.exit(main())
