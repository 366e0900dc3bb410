"""Helpers shared by the test folders: imported as ``support.…``, since tests/conftest.py puts tests/
on sys.path (pytest's default rootdir-based "prepend" import mode)."""
