"""The workflow runtime: loading, deadlines, retries, cleanup, events, journal.

It imports nothing from the front ends (cli, lsp) or the knowledge base; they subscribe
to the event stream it emits.
"""
