"""The uvicorn target of `switchboard web`: the web role, configured from the environment."""

from bot.app import app_from_environment

app = app_from_environment()
