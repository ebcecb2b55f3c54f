"""The ``pace`` command (typer + rich): serve, manage races, simulate runners.

It imports the service and the client; nothing else imports it.
"""
