"""The service layer: what the CLI, the HTTP API and the web pages do, without knowing about any of them."""
