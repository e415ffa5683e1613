"""Only the optional C accelerator lives here; everything else is in pyproject.toml.

Without a C compiler the build skips it (optional=True) and skills.py uses its pure-Python path.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("skillpulse_ingest._scan", ["src/skillpulse_ingest/_scan.c"], optional=True)])
