import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # e2e_helpers

from e2e_helpers import procs  # noqa: E402,F401  (fixture)
