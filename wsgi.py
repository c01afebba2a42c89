"""WSGI entry point: `gunicorn wsgi:app`."""

import os

from bot.app import create_app
from bot.logs import setup_logging

setup_logging(json_lines=os.environ.get("BOT_ENV") == "production")
app = create_app()
