"""Run the regtest runtime's command line: ``python -m devtools.regtest``."""

import sys

from devtools.regtest.cli import main

sys.exit(main())
