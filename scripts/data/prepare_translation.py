#!/usr/bin/env python3
"""Prepare the English-Spanish parallel text ("translate-en-es").

Sources (Debian packages; `scripts/install-deps.sh --translation` installs them)
    Bible      sword-text-web (module engWEB2015eb, World English Bible, NRSVA
               versification) and sword-text-sparv (module spaRV1909eb,
               Reina-Valera 1909, KJV versification), exported with
                   diatheke -b MODULE -f OSIS -k "Gen 1:1-Rev 22:21"
               (the plain-text export loses verses). Both print English book
               names, one verse a line: "[HEADING  ]Book C:V: TEXT<milestone/>".
    LibreOffice help
               libreoffice-help-en-us and libreoffice-help-es: the same 2,561
               HTML pages under /usr/share/libreoffice/help/{en-US,es}/.

Bible rule
    A line starts a verse at the first "Book C:V: " on it (any book name,
    including the WEB's deuterocanon, so those verses end Malachi cleanly);
    what precedes it on the line is a heading diatheke repeats (dropped); a
    line without a reference continues the verse. <title> elements are
    dropped with their text, <w> tags are dropped (a space between two
    adjacent ones), other tags become a space, entities are unescaped. The
    WEB's last verse (Rev 22:21) carries the glossary after a run of spaces:
    a verse is cut at the first run of 6 or more spaces. Verses are joined on
    (book, chapter, verse) over the 66 books of the SpaRV export; a pair with
    an empty side is dropped. The spaRV1909eb module keeps the Spanish verse
    numbering inside its KJV frame in a few places, so the join misaligns
    there: the chapters in SHIFTED_CHAPTERS (found by comparing verse lengths
    at offsets and read by hand: e.g. its Numbers 13:1 is the WEB's 12:16) are
    dropped, and so is a verse whose next SpaRV verse is empty while the WEB's
    is not (the SpaRV merged the two, e.g. II Samuel 20:25-26). Split:
    chapter % 10 == 0 test, == 5 dev, else train; rows in canonical order.
    (The plain join without these two drops gives 2,412 test verses.)

LibreOffice rule
    Inside <div id="DisplayArea"> every p, h1-h6, td, th, li with an id gives
    a block; its text skips elements with a `hidden` attribute unless their id
    starts with "default" (the switchinline alternatives: the default one is
    what a reader of neither Mac nor a particular module sees). The first
    block with a given id on a page wins. Blocks are paired by id on the same
    page; a pair is kept when both sides are non-empty and the Spanish differs
    from the English. Pages in sorted order of their path relative to the
    language folder (e.g. "text/shared/02/18010000.html"); a pair (English,
    Spanish) already kept on an earlier page (or earlier on the same page) is
    dropped, so no pair is in two splits. Split: int(sha1(path).hexdigest(),
    16) % 10 == 0 test, == 5 dev, else train.

Text
    Unicode NFC, every run of whitespace (tabs, newlines, no-break spaces)
    one space, stripped. No tabs or newlines inside fields.

Outputs (in --out, default data/translate-en-es)
    bible/{train,dev,test}.tsv, libreoffice/{train,dev,test}.tsv
        ENGLISH<TAB>SPANISH, UTF-8, "\\n" line ends.
    all/{train,dev}.tsv  bible then libreoffice, for training one model on
        both; there is no all/test.tsv: the test sets are scored apart.
    SPLIT.txt  provenance, rules and counts; written last, so its presence
        means the set is complete. When it exists the script does nothing
        unless --force. Every file is written to a temp file and renamed;
        a second run gives byte-identical files.

Usage
    python3 scripts/data/prepare_translation.py [--out DIR] [--force]
"""
import argparse
import hashlib
import html
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from html.parser import HTMLParser

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EN_MODULE, ES_MODULE = "engWEB2015eb", "spaRV1909eb"
BIBLE_RANGE = "Gen 1:1-Rev 22:21"
HELP_ROOT = "/usr/share/libreoffice/help"
EN_HELP, ES_HELP = "en-US", "es"
SPLITS = ("train", "dev", "test")

# "Genesis 1:1: ", "I Samuel 3:4: ", "Revelation of John 22:21: ", "Esther (Greek) 1:1: "
REFERENCE = re.compile(
    r"(?:^|(?<=\s)|(?<=>))((?:I{1,3}V?|IV) )?([A-Z][a-z]+(?: (?:of|[A-Z][a-z]+))*(?: \([A-Z][a-z]+\))?)"
    r" (\d+):(\d+): ")
TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.S)
TAG = re.compile(r"<[^>]*>")
WORD_TAG = re.compile(r"</?w\b[^>]*>")
ADJACENT_WORDS = re.compile(r"</w><w\b")  # the WEB has "<w>God</w><w>created</w>" in Gen 1:1
GLOSSARY_GAP = re.compile(r" {6,}")
SHIFTED_CHAPTERS = {("Numbers", 13), ("Numbers", 30), ("I Samuel", 24), ("II Chronicles", 33),
                    ("Job", 39), ("Job", 40), ("Hosea", 12), ("Jonah", 2), ("II Corinthians", 13)}


def clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def split_of(n: int) -> str:
    return "test" if n % 10 == 0 else "dev" if n % 10 == 5 else "train"


# -- Bible -------------------------------------------------------------------

def diatheke(module: str) -> str:
    cmd = ["diatheke", "-b", module, "-f", "OSIS", "-k", BIBLE_RANGE]
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, capture_output=True).stdout.decode("utf-8")


def parse_osis(text: str):
    """{(book, chapter, verse): raw text} in the order of the export, and the books in order."""
    verses, books, current = {}, [], None
    for line in text.split("\n"):
        m = REFERENCE.search(line)
        if m:
            book = (m.group(1) or "") + m.group(2)
            current = (book, int(m.group(3)), int(m.group(4)))
            if book not in books:
                books.append(book)
            if current in verses:
                sys.exit(f"error: {current} twice in the export")
            verses[current] = [line[m.end():]]
        elif current is not None:
            verses[current].append(line)
    return {k: "\n".join(v) for k, v in verses.items()}, books


def verse_text(raw: str) -> str:
    raw = GLOSSARY_GAP.split(raw, 1)[0]
    raw = WORD_TAG.sub("", ADJACENT_WORDS.sub("</w> <w", TITLE.sub(" ", raw)))
    return clean(html.unescape(TAG.sub(" ", raw)))


def bible_pairs():
    en, _ = parse_osis(diatheke(EN_MODULE))
    es, books = parse_osis(diatheke(ES_MODULE))
    out = {s: [] for s in SPLITS}
    stats = {"es_verses": len(es), "en_verses": len(en), "books": len(books),
             "missing_en": [], "empty": [], "shifted": 0, "merged": [], "naive_test": 0}
    keys = list(es)  # canonical (KJV) order
    for i, key in enumerate(keys):
        if key not in en:
            stats["missing_en"].append(key)
            continue
        e, s = verse_text(en[key]), verse_text(es[key])
        if not e or not s:
            stats["empty"].append(key)
            continue
        stats["naive_test"] += key[1] % 10 == 0
        if key[:2] in SHIFTED_CHAPTERS:
            stats["shifted"] += 1
            continue
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        if nxt and nxt[:2] == key[:2] and not verse_text(es[nxt]) and verse_text(en.get(nxt, "")):
            stats["merged"].append(key)
            continue
        out[split_of(key[1])].append((e, s))
    return out, stats


# -- LibreOffice help --------------------------------------------------------

BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "li"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class HelpBlocks(HTMLParser):
    """Collects {id: text} for the blocks inside <div id="DisplayArea">."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, hidden, block_id or None, is_display_area)
        self.open_blocks = []  # [id, [text pieces]]
        self.blocks = {}
        self.in_area = 0
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        a = dict(attrs)
        ident = a.get("id") or ""
        area = tag == "div" and ident == "DisplayArea"
        hidden = "hidden" in a and not ident.startswith("default")
        block = ident if (self.in_area and tag in BLOCKS and ident) else None
        self.stack.append((tag, hidden, block, area))
        self.in_area += area
        self.hidden += hidden
        if block is not None:
            self.open_blocks.append([block, []])

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in VOID or not any(t == tag for t, *_ in self.stack):
            return
        while self.stack:
            t, hidden, block, area = self.stack.pop()
            self.in_area -= area
            self.hidden -= hidden
            if block is not None:
                ident, pieces = self.open_blocks.pop()
                self.blocks.setdefault(ident, clean(" ".join(pieces)))
            if t == tag:
                break

    def handle_data(self, data):
        if self.hidden or not self.open_blocks:
            return
        for _, pieces in self.open_blocks:
            pieces.append(data)


def page_blocks(path: str) -> dict:
    p = HelpBlocks()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    p.close()
    return p.blocks


def help_pages():
    root = os.path.join(HELP_ROOT, EN_HELP)
    pages = []
    for d, _, files in os.walk(root):
        for name in files:
            if name.endswith(".html"):
                pages.append(os.path.relpath(os.path.join(d, name), root).replace(os.sep, "/"))
    return sorted(pages)


def libreoffice_pairs():
    out = {s: [] for s in SPLITS}
    seen = set()
    stats = {"pages": 0, "pages_missing_es": 0, "pages_per_split": {s: 0 for s in SPLITS},
             "same_ids": 0, "equal": 0, "empty": 0, "repeated": 0}
    for rel in help_pages():
        es_path = os.path.join(HELP_ROOT, ES_HELP, rel)
        if not os.path.exists(es_path):
            stats["pages_missing_es"] += 1
            continue
        stats["pages"] += 1
        split = split_of(int(hashlib.sha1(rel.encode("utf-8")).hexdigest(), 16))
        stats["pages_per_split"][split] += 1
        en = page_blocks(os.path.join(HELP_ROOT, EN_HELP, rel))
        es = page_blocks(es_path)
        for ident, e in en.items():
            if ident not in es:
                continue
            stats["same_ids"] += 1
            s = es[ident]
            if not e or not s:
                stats["empty"] += 1
            elif e == s:
                stats["equal"] += 1
            elif (e, s) in seen:
                stats["repeated"] += 1
            else:
                seen.add((e, s))
                out[split].append((e, s))
    return out, stats


# -- Output ------------------------------------------------------------------

def write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def tsv(pairs) -> str:
    for e, s in pairs:
        assert "\t" not in e + s and "\n" not in e + s
    return "".join(f"{e}\t{s}\n" for e, s in pairs)


def package_version(name: str) -> str:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def summary(bible, bstats, office, lstats) -> str:
    def row(name, sets):
        n = {s: len(sets[s]) for s in SPLITS}
        return f"  {name:<12} train {n['train']:>6}  dev {n['dev']:>5}  test {n['test']:>5}  total {sum(n.values()):>6}"
    versions = ", ".join(f"{p} {package_version(p)}" for p in
                         ("sword-text-web", "sword-text-sparv", "diatheke",
                          "libreoffice-help-en-us", "libreoffice-help-es"))
    missing = ", ".join(f"{b} {c}:{v}" for b, c, v in bstats["missing_en"]) or "none"
    empty = ", ".join(f"{b} {c}:{v}" for b, c, v in bstats["empty"]) or "none"
    merged = ", ".join(f"{b} {c}:{v}" for b, c, v in bstats["merged"]) or "none"
    shifted = ", ".join(f"{b} {c}" for b, c in sorted(SHIFTED_CHAPTERS))
    lp = lstats["pages_per_split"]
    return f"""translate-en-es: English-Spanish parallel text from Debian packages

Packages: {versions}
Made by:  scripts/data/prepare_translation.py (its docstring has the full rules)
Format:   ENGLISH<TAB>SPANISH per line, UTF-8 NFC, whitespace runs -> one space.

bible/  diatheke -b {EN_MODULE} / {ES_MODULE} -f OSIS -k "{BIBLE_RANGE}";
        markup and repeated headings stripped, joined on book chapter:verse.
        Split: chapter % 10 == 0 test, == 5 dev, else train.
        Verses: SpaRV {bstats['es_verses']} ({bstats['books']} books), WEB {bstats['en_verses']} (with deuterocanon);
        SpaRV verses missing in the WEB export: {missing};
        dropped with an empty side: {empty};
        dropped in chapters where the SpaRV numbering is shifted ({shifted}): {bstats['shifted']};
        dropped as merged into the next SpaRV verse: {merged}.
        (The plain join, without the last two drops, has {bstats['naive_test']} test verses.)
libreoffice/  /usr/share/libreoffice/help/{{{EN_HELP},{ES_HELP}}}/**.html, {lstats['pages']} pages
        (train {lp['train']}, dev {lp['dev']}, test {lp['test']}; without a Spanish page: {lstats['pages_missing_es']}).
        Blocks (p, h1-h6, td, th, li with an id) paired by id: {lstats['same_ids']};
        dropped: Spanish equal to English {lstats['equal']}, an empty side {lstats['empty']},
        pair already kept on an earlier page {lstats['repeated']}.
        Split: int(sha1(path relative to the language folder).hexdigest(), 16) % 10
        == 0 test, == 5 dev, else train; pages in sorted path order.
all/    train.tsv and dev.tsv: bible's then libreoffice's rows (no all/test.tsv;
        the two test sets are scored apart).

Counts (pairs):
{row('bible', bible)}
{row('libreoffice', office)}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data", "translate-en-es"))
    ap.add_argument("--force", action="store_true", help="rebuild even when SPLIT.txt exists")
    args = ap.parse_args()

    marker = os.path.join(args.out, "SPLIT.txt")
    if os.path.exists(marker) and not args.force:
        print(f"{args.out} is prepared (SPLIT.txt exists); --force rebuilds it")
        return
    bible, bstats = bible_pairs()
    office, lstats = libreoffice_pairs()
    for name, sets in (("bible", bible), ("libreoffice", office)):
        for s in SPLITS:
            write_atomic(os.path.join(args.out, name, f"{s}.tsv"), tsv(sets[s]))
    for s in ("train", "dev"):
        write_atomic(os.path.join(args.out, "all", f"{s}.tsv"), tsv(bible[s] + office[s]))
    text = summary(bible, bstats, office, lstats)
    write_atomic(marker, text)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
