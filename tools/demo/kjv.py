"""The King James Bible as plain prose, from Debian's bible-kjv package.

`bible -l100000 Gen1:1-Rev22:21` prints every chapter as a header line
("Genesis 1"), a blank line, then one line per verse ("  3 And God said, ...").
We keep the verse text only: one verse per line, a blank line between
chapters, no book names, chapter or verse numbers.
"""

import re
import subprocess

_HEADER = re.compile(r"^(\S.*) (\d+)$")
_VERSE = re.compile(r"^\s+\d+ (.*)$")


def load_books():
    """Returns [(book name, text)] in canonical order (66 books)."""
    out = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    books = []
    chapters = None
    verses = None
    for line in out.splitlines():
        h = _HEADER.match(line)
        if h:
            name = h.group(1)
            if not books or books[-1][0] != name:
                books.append((name, []))
            verses = []
            books[-1][1].append(verses)
            continue
        v = _VERSE.match(line)
        if v:
            verses.append(v.group(1).strip())
        elif line.strip():
            raise ValueError(f"unexpected line from bible: {line!r}")
    del chapters
    return [(name, "\n\n".join("\n".join(ch) for ch in chs) + "\n") for name, chs in books]


def split(books, n_heldout_books):
    """Training text (all but the last n books) and held-out text (the last n)."""
    train = "\n".join(t for _, t in books[:-n_heldout_books])
    held = "\n".join(t for _, t in books[-n_heldout_books:])
    return train, held, [n for n, _ in books[-n_heldout_books:]]
