"""The web interface: server-rendered pages over the same service as the API.

``card`` and ``templating`` need no FastAPI (``persona generate --format html`` uses them);
``pages`` holds the routes the app mounts at ``/``."""
