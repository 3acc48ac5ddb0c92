"""bridge: keeps a government information disclosure portal in step with a bureau site."""

__version__ = "0.1.0"
