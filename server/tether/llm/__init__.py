"""The client for OpenAI-compatible chat completions that the `llm` step kind calls: its
configuration, the streaming client and the Server-Sent Events decoder it reads with.

It knows nothing of steps or workflows; `steps/llm.py` is the step kind built on it.
"""
