"""Spend: what a run may cost before it starts, and the budgets that cap it.

``tokens`` counts a prompt's tokens offline; ``estimate`` plans a run's requests with the
pipeline's own prompts and prices them; ``budgets`` decides whether a run may start and what
it may spend; ``operations`` is the service's side of it.
"""
