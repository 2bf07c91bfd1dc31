"""Runs: dispatch (in-process on SQLite, a job queue on PostgreSQL) and the one executor.

``executor.Runner`` executes one attempt of a run (claim → load evidence → provider →
ground → store personas in the succeeded transaction), whatever dispatched it:
``dispatch.LocalDispatcher`` (asyncio tasks of this process) or ``queue.ProcrastinateDispatcher``
(jobs of a procrastinate queue in PostgreSQL, executed by ``persona worker``).
"""
