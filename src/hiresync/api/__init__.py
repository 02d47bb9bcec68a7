"""HTTP doors: the FastAPI app factory, REST v1 routers, OAuth callbacks, health and metrics.
Routers hold no business rules: they parse, authorize, call a service, and shape the answer."""
