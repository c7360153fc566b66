"""A readable plain-text version of an HTML (or MJML) body, for the text/plain part.

Links are kept as "text (url)", block elements start new lines, head/style/script content and
all tags are dropped. Template tags ({{ }}, {% %}) survive as text, so this runs once per
campaign on the template source and the result is rendered per recipient like the HTML.
"""

import re
from html.parser import HTMLParser

SKIP = {"head", "style", "script", "title", "mj-head", "mj-style", "mj-attributes", "mj-preview"}
BLOCK = {
    "p", "div", "br", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
    "section", "article", "header", "footer", "blockquote", "hr", "mj-text", "mj-button",
    "mj-section", "mj-column", "mj-divider", "mj-hero", "mj-wrapper", "mj-table",
}  # fmt: skip
LINK = {"a", "mj-button"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.links: list[tuple[str, int]] = []  # (href, index of the first part inside)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP:
            self.skipping += 1
            return
        if tag in BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag in LINK:
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skipping = max(self.skipping - 1, 0)
            return
        if tag in LINK and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.parts[start:]).split())
            if href and not href.startswith("#") and href != label:
                self.parts.append(f" ({href})" if label else href)
        if tag in BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
