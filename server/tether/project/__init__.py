"""The user's project as every front end sees it: where its root is, which of its files
configure it, and which Python environment (interpreter and tools) it runs in."""
