"""hipflask: the library every hipflask service is built on."""
from hipflask.state import backplane, settings, state

__all__ = ["backplane", "create_app", "settings", "state"]


def __getattr__(name):
    # Imported on first use, so `hipflask.gunicorn_conf` can choose the metrics directory before
    # the factory (and prometheus_client) is imported.
    if name == "create_app":
        from hipflask.factory import create_app
        return create_app
    raise AttributeError(f"module 'hipflask' has no attribute {name!r}")
