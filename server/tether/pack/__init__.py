"""The skill pack shipped with tether (Claude Code skills, Cursor rules and commands, an
AGENTS.md section) and its installation into a workspace by `tether init`."""
