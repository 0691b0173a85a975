"""Nexara's engine: UI-free, importable without Textual, and cheap to import.

Heavy libraries (av, cv2, tensorflow) are imported inside the functions that
need them, so `nexara --help` and the TUI start instantly.
"""

__version__ = "0.1.0"

# Bumped whenever a change to the integrity engine could change a verdict:
# stored results from another engine version are re-checked, never reused.
ENGINE_VERSION = "2"
