"""tether as an MCP server (`tether mcp`): the same use cases as the CLI and the language
server, offered as tools over stdio with the official Python SDK.

The modules here only read tool arguments and present results; every use case lives once
in the engine (run operations, workflow catalog) or the knowledge base.
"""
