"""hipflask: the library every hipflask service is built on."""
from hipflask.factory import create_app

__all__ = ["create_app"]
