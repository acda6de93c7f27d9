"""The render service: Jinja templates over HTTP, rendered in a sandbox with limits."""
