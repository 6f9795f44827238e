"""Stored text reaches the terminal escaped: the one filter on kb's stdout and stderr.

A law file's title could carry ANSI/OSC escape sequences (retitle the terminal, hide text,
forge a link) or a NUL. Every C0 control except newline and tab (and carriage return on stderr,
which the progress bar uses), DEL and the C1 controls are printed as a visible `\\xNN` instead.
JSON output is unchanged by this: json.dumps already writes such characters as \\u00NN.
"""

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_NO_CR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible(text: str, keep_cr: bool = False) -> str:
    pattern = _CONTROL_NO_CR if keep_cr else _CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class Escaping:
    """A text stream whose writes pass through `visible`; everything else is the wrapped stream's."""

    def __init__(self, stream, keep_cr: bool = False):
        self._stream, self._keep_cr = stream, keep_cr

    def write(self, text):
        return self._stream.write(visible(text, self._keep_cr) if isinstance(text, str) else text)

    def __getattr__(self, name):
        return getattr(self._stream, name)
