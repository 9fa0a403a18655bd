"""The toolbox's version: one place, imported by the package and by every module that writes it."""

__version__ = "1.0.0.dev0"
