"""Production settings with directory events switched off: the outbox benchmark's
baseline only. Never used outside `python -m bench --only outbox`."""

from config.settings import *  # noqa: F403

DIRECTORY_EVENTS_ENABLED = False
