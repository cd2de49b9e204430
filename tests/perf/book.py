"""A generated book for the benchmark: the same text on every run, as many chunks as asked for.

Each page is a title and `SECTIONS_PER_PAGE` sections of prose short enough
to make one chunk each at the default CHUNK_SIZE, so a book of N chunks is
N / SECTIONS_PER_PAGE pages. The words come from a fixed vocabulary and a
seeded generator.
"""

from __future__ import annotations

import random
from pathlib import Path

QUESTION = "How does the robot controller publish sensor readings to the navigation node"
SECTIONS_PER_PAGE = 50
WORDS_PER_SECTION = 220
_VOCABULARY = (
    "robot controller sensor reading navigation node topic message publish subscribe service action "
    "parameter launch file workspace package build colcon frame transform lidar camera depth image point "
    "cloud map planner costmap odometry wheel motor joint state simulation gazebo physics collision mesh "
    "model link plugin bridge network latency queue callback executor timer thread lifecycle recovery goal "
    "feedback result server client interface schema field type array string integer float boolean time "
    "duration stamp header sequence buffer filter kalman estimate covariance pose twist velocity acceleration "
    "gripper arm trajectory inverse kinematics torque safety limit emergency stop battery charge dock"
).split()


def passage_text(n: int, words: int = WORDS_PER_SECTION) -> str:
    """The text of passage n: a few paragraphs of sentences, the same for the same n."""
    rng = random.Random(n)
    sentences = []
    while sum(len(sentence.split()) for sentence in sentences) < words:
        length = rng.randint(8, 18)
        sentence = " ".join(rng.choice(_VOCABULARY) for _ in range(length))
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    paragraphs = [" ".join(sentences[start : start + 4]) for start in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def write_book(folder: Path, chunks: int) -> Path:
    """Write a Docusaurus docs folder that chunks into about `chunks` chunks; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = max(1, -(-chunks // SECTIONS_PER_PAGE))
    written = 0
    for page in range(pages):
        count = min(SECTIONS_PER_PAGE, chunks - written)
        lines = [f"# Chapter {page + 1}", ""]
        for section in range(count):
            lines += [f"## Topic {page + 1}.{section + 1}", "", passage_text(page * SECTIONS_PER_PAGE + section), ""]
        (folder / f"chapter-{page + 1:04d}.md").write_text("\n".join(lines), encoding="utf-8")
        written += count
    return folder
