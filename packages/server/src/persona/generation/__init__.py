"""Turning evidence into personas: prompts, response parsing, grounding."""
