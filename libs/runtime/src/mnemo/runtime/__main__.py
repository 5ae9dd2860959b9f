"""`python -m mnemo.runtime run` is the same as `mnemo run`."""

import sys

from mnemo.runtime.cli import main

sys.exit(main())
