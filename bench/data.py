"""Seeded benchmark inputs, generated once into bench/out/ (sizes scale with BENCH_SCALE)."""
from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SEED = 20261129
_SENTENCE = ("the a of and to in is you that it for on with as are be this was have or at by not "
             "your from we can will if an order account refund policy delivery customer please "
             "thanks help issue update password reset invoice shipping warranty return days "
             "support team product price discount payment card bank transfer address email "
             "phone number tracking package delay apologize confirm check details request")
_WORDS = _SENTENCE.split()


def _text(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    for i in range(0, len(words), rng.randint(6, 14)):  # numbers, names, punctuation as in logs
        words[i] = rng.choice([f"#{rng.randint(1000, 99999)}", f"{rng.randint(1, 31)}/11",
                               "".join(rng.choices(string.ascii_letters, k=rng.randint(3, 9))),
                               f"${rng.randint(5, 900)}.{rng.randint(0, 99):02d}", "(see above)"])
    return (" ".join(words).capitalize() + rng.choice([".", "?", "!", "..."])).replace(" ,", ",")


def _conversation(rng: random.Random, systems: list[str]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": rng.choice(systems)}]
    for _ in range(rng.randint(1, 5)):
        messages.append({"role": "user", "content": _text(rng, 8, 60)})
        messages.append({"role": "assistant", "content": _text(rng, 20, 160)})
    return messages


def _systems(rng: random.Random) -> list[str]:
    # A few instruction prompts shared by many conversations: about a sixth of all tokens,
    # as in real support logs (not the 64% of one repeated prompt).
    return [f"You are the support assistant of {name}. " + _text(rng, 60, 90)
            for name in ("ACME Corp", "Globex", "Initech")]


def _made_once(name: str, write: Callable[[Path], None]) -> Path:
    """bench/out/`name`, written by `write` into a temporary file first unless a finished one
    is there: an interrupted generation never leaves a partial input for later runs."""
    path = OUT / name
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        tmp.replace(path)
    return path


def chat_jsonl(mb: float = 100, metadata: bool = False) -> Path:
    """Multi-turn chat JSONL of about `mb` MB × BENCH_SCALE (with a `metadata` key when asked)."""
    target = int(mb * SCALE * 1e6)

    def write(tmp: Path) -> None:
        rng = random.Random(SEED)
        systems, written = _systems(rng), 0
        with tmp.open("w", encoding="utf-8") as f:
            while written < target:
                record: dict = {"messages": _conversation(rng, systems)}
                if metadata:
                    record["metadata"] = {"user_id": rng.randint(1, 5000), "source": "helpdesk"}
                line = json.dumps(record, ensure_ascii=False) + "\n"
                f.write(line)
                written += len(line.encode())

    return _made_once(f"chat_{target}{'_meta' if metadata else ''}.jsonl", write)


def one_line(source: Path) -> Path:
    path = OUT / f"one_line_{source.stem}.jsonl"
    with source.open("rb") as f:
        path.write_bytes(f.readline())
    return path


def flat_turns_csv(rows: int = 1_000_000) -> Path:
    """One row per turn, conversations interleaved (rows shuffled), for multi-turn regrouping."""
    n = int(rows * SCALE)

    def write(tmp: Path) -> None:
        import csv

        rng = random.Random(SEED)
        out: list[tuple[int, int, str, str]] = []
        cid = 0
        while len(out) < n:
            cid += 1
            for turn in range(2 * rng.randint(1, 4)):
                role = "user" if turn % 2 == 0 else "assistant"
                out.append((cid, turn, role, _text(rng, 5, 40)))
        rng.shuffle(out)
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["conversation_id", "turn", "speaker", "text"])
            writer.writerows(out[:n])

    return _made_once(f"turns_{n}.csv", write)


def qa_parquet(rows: int = 1_000_000) -> Path:
    n = int(rows * SCALE)

    def write(tmp: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rng = random.Random(SEED)
        questions = [_text(rng, 5, 30) for _ in range(n)]
        answers = [_text(rng, 10, 60) for _ in range(n)]
        pq.write_table(pa.table({"question": questions, "answer": answers,
                                 "id": list(range(n))}), tmp)

    return _made_once(f"qa_{n}.parquet", write)


def qa_xlsx(rows: int = 200_000) -> Path:
    n = int(rows * SCALE)

    def write(tmp: Path) -> None:
        import openpyxl

        rng = random.Random(SEED)
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("data")
        ws.append(["question", "answer"])
        for _ in range(n):
            ws.append([_text(rng, 3, 12), _text(rng, 4, 16)])
        wb.save(tmp)

    return _made_once(f"qa_{n}.xlsx", write)
