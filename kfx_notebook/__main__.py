"""`python -m kfx_notebook ...` is `kfx-notebook ...` (for environments whose scripts are not on PATH)."""

import sys

from .cli import main

sys.exit(main())
