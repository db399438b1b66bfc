"""findings.md as a standalone HTML page, so that the Snakemake report shows the verdicts
beside the figures (a report shows images, PDFs and HTML inline; other files only as
downloads)."""

from __future__ import annotations

import html
from pathlib import Path

import markdown

from closerlook.provenance import atomic_path

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 1.5rem auto;
       padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f5f5f5; padding: 0 0.2rem; }
"""


def findings_page(text: str, title: str) -> str:
    """A whole HTML document rendering the Markdown `text` (tables included)."""
    body = markdown.markdown(text, extensions=["tables", "sane_lists"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def write(text: str, html_path: str | Path, title: str) -> None:
    """findings.md's Markdown `text` as a page at `html_path`, written atomically."""
    with atomic_path(html_path) as tmp:
        Path(tmp).write_text(findings_page(text, title))
