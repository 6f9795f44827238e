"""Secrets in a database URL never reach the terminal: the one place that hides them.

A URL's password (`user:PASSWORD@host`) and query parameters that carry secrets (`password=`,
`sslpassword=`, `pwd=`, `token=` ...) become `***`. `redact_text` does the same inside any
message, e.g. a driver's error that quotes the URL or a libpq conninfo (`password=...`).
"""

import re

HIDDEN = "***"
_USERINFO = re.compile(r"(://[^:/@\s'\"]*:)[^@\s'\"]*@")
_PARAM = re.compile(r"""(?i)\b([a-z_]*(?:pass|pwd|secret|token|credential)[a-z_]*\s*=\s*)('[^']*'|"[^"]*"|[^\s&;'",)]+)""")


def redact_url(url: str) -> str:
    """The URL with its secrets replaced by *** (textually: `sqlite:////abs/path` keeps its slashes)."""
    return redact_text(str(url or ""), None)


def redact_text(text: str, url: "str | None") -> str:
    """A message with `url` (if given) shown redacted, and any other password-like part hidden."""
    text = str(text)
    if url:
        text = text.replace(url, redact_url(url))
    text = _USERINFO.sub(lambda m: m.group(1) + HIDDEN + "@", text)
    return _PARAM.sub(lambda m: m.group(1) + HIDDEN, text)
