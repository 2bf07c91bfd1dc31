"""Persona: evidence-backed user personas from qualitative research data."""

from persona.__about__ import __version__

__all__ = ["__version__"]
