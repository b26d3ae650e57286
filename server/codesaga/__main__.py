"""``python -m codesaga`` runs the ``codesaga`` command."""

import sys

from codesaga.cli import main

sys.exit(main())
