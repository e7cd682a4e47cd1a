import sys
from pathlib import Path

# The spec tables and their checker live beside the tests, not in the package.
sys.path.insert(0, str(Path(__file__).parent))
