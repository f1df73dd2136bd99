"""The /api/v1 routers, one module per noun; each route is a few lines over a service."""
