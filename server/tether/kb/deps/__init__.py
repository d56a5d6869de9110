"""Dependency detection: what a workspace depends on, from its dependency files.

Never executes project code (setup.py is not run) and never raises for bad input:
malformed files and lines are reported as problems and skipped.
"""

from __future__ import annotations

from tether.kb.deps.detect import detect_dependencies
from tether.kb.deps.files import DEPENDENCY_FILE_GLOBS, is_dependency_file, parse_dependency_file
from tether.kb.deps.model import Dependency, DependencyProblem, Detection

__all__ = [
    "DEPENDENCY_FILE_GLOBS",
    "Dependency",
    "DependencyProblem",
    "Detection",
    "detect_dependencies",
    "is_dependency_file",
    "parse_dependency_file",
]
