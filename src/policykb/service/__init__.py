"""The HTTP API: `create_app(settings)`, its routes, limits and security."""
