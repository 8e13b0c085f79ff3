#!/usr/bin/env python3
"""Checks the links of README.md and docs/*.md: every relative link resolves
to a file inside the repository (and its #anchor to a heading there), and no
link leaves the repository. Run from anywhere: python3 docs/check-links.py"""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent
# Pages written in parallel with this one; they exist once merged.
upcoming = {"docs/serving.md", "docs/custom-replayer.md", "docs/kill-polling-api.md"}
link = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading):  # GitHub's anchor for a heading
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def prose(path):  # lines outside fenced code, inline code removed
    fenced = False
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield n, re.sub(r"`[^`]*`", "", line)


def anchors(path):
    out = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            out.add(slug(line.lstrip("#")))
    return out


errors, checked = [], 0
pages = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
for page in pages:
    for n, line in prose(page):
        for target in link.findall(line):
            checked += 1
            where = f"{page.relative_to(root)}:{n}: {target}"
            if re.match(r"[a-z]+:", target):
                errors.append(f"{where}: leaves the repository")
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            try:
                rel = dest.relative_to(root).as_posix()
            except ValueError:
                errors.append(f"{where}: outside the repository")
                continue
            if rel in upcoming and not dest.exists():
                continue
            if not dest.exists():
                errors.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                errors.append(f"{where}: no heading #{anchor}")
for e in errors:
    print(e)
print(f"{checked} links in {len(pages)} pages, {len(errors)} broken")
sys.exit(1 if errors else 0)
