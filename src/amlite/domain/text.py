"""The one rule for text amlite accepts from a client: no NUL, no other C0 control character
except tab, line feed and carriage return.

NUL cannot be stored (PostgreSQL's ``text`` and ``jsonb`` refuse it) nor passed to a process
(``execve`` ends a string at the first NUL), and the other C0 controls have no place in a
name, a command, an environment variable or a path. Tab and line breaks are kept: commands
and descriptions span lines.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def control_char_problem(text: str) -> str | None:
    """Why ``text`` is refused, or None when it is acceptable."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character" if char == "\x00" else f"the control character U+{ord(char):04X}"
    return f"must not contain {what} (at position {found.start()})"
