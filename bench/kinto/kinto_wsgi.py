"""Kinto's WSGI application for gunicorn, from the ini named by KINTO_INI (as Kinto's own app.wsgi does).
It runs in Kinto's virtualenv (bench/.kinto/), never in the project's."""
import configparser
import logging.config
import os

from kinto import main

ini_path = os.environ["KINTO_INI"]
logging.config.fileConfig(ini_path)
config = configparser.ConfigParser()
config.read(ini_path)
application = main(config.items("DEFAULT"), **dict(config.items("app:main")))
