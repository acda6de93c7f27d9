"""Sphinx configuration of hipflask's API reference (`make docs`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

project = "hipflask"
extensions = ["sphinxcontrib.httpdomain", "sphinxcontrib.autohttp.flask"]
html_theme = "alabaster"
exclude_patterns = ["_build"]
http_index_shortname = "api"
