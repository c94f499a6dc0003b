"""Shared test servers: the hub under uvicorn (``hub_server``), push-service stand-ins."""
