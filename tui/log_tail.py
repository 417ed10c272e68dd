"""Reading the end of a log that may still be growing (workers panel, run log viewer).

Pure file reading, no Textual: the screens call these from their jobs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TAIL_BYTES = 16_384  # read at most this much from a log's end: logs grow without bound


def tail_lines(path: Path, lines: int = 15, max_bytes: int = TAIL_BYTES) -> list[str]:
    """The last ``lines`` lines of a text file; [] when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - max_bytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


@dataclass(frozen=True)
class Chunk:
    """What a log gained since ``offset``: its new whole lines and where to read next.
    ``reset``: the lines replace what was shown (first read, or the file was cut short or
    grew too much between two reads to read it all)."""

    lines: list[str]
    offset: int
    reset: bool


def read_new(path: Path, offset: int | None, lines: int, max_bytes: int,
             whole_lines_only: bool = True) -> Chunk | None:
    """The lines appended to ``path`` since ``offset`` (None: its last ``lines`` lines);
    None when there is no such file. A last line with no newline yet is left for the next
    read while ``whole_lines_only`` (the writer may be mid-line)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            reset = offset is None or size < offset or size - offset > max_bytes
            start = offset if offset is not None and not reset else max(0, size - max_bytes)
            fh.seek(start)
            data = fh.read(size - start)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError:
        return Chunk([], offset or 0, False)  # unreadable for now: try again next poll
    if reset and start > 0:  # the first line read is likely a line's tail: drop it
        cut = data.find(b"\n") + 1
        data, start = data[cut:], start + cut
    if whole_lines_only:
        data = data[:data.rfind(b"\n") + 1]
    new = data.decode("utf-8", errors="replace").splitlines()
    return Chunk(new[-lines:], start + len(data), reset)
