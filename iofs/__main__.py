"""python -m iofs: the iofs command."""
import sys

from .cli import main

sys.exit(main())
