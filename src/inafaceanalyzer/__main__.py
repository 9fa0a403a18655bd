"""``python -m inafaceanalyzer``: the same as ``ina_face_analyzer.py``."""

import sys

from .cli.analyze import main

sys.exit(main())
