"""Domain values: frozen dataclasses and pure functions shared by every layer.

Nothing here does I/O or imports from other hiresync packages.
"""
