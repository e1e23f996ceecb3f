"""The ``--help`` layout of every ``alft`` subcommand: prose is wrapped to the terminal, example and
exit-status lines (indented by two spaces) are kept as written."""
from __future__ import annotations

import argparse
import textwrap

__all__ = ["HelpFormatter"]


class HelpFormatter(argparse.HelpFormatter):
    """Wraps paragraphs of descriptions and epilogs; keeps indented lines (examples, exit codes) verbatim."""

    def _fill_text(self, text, width, indent):
        out = []
        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                out.append(indent + line)
            else:
                out.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent))
        return "\n".join(out)
