"""One router per area; `create_app` mounts them all under /api."""
