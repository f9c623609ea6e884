"""Reference: multi-turn regrouping with pandas (read_csv, stable sort by first appearance and
turn, group into messages), written as ftprep writes it. A conversation without an assistant
message is left out, as ftprep leaves it out (it rejects it: FT302; a row cut from the bench's
shuffled turns can take a conversation's only answer). argv: input.csv output.jsonl"""
import sys

import orjson
import pandas as pd

df = pd.read_csv(sys.argv[1], dtype={"conversation_id": str, "speaker": str, "text": str},
                 keep_default_na=False)
df["_first"] = df.groupby("conversation_id", sort=False).cumcount() == 0
order = {cid: i for i, cid in enumerate(df["conversation_id"].drop_duplicates())}
df["_group"] = df["conversation_id"].map(order)
df = df.sort_values(["_group", "turn"], kind="stable")
with open(sys.argv[2], "wb") as out:
    for _, group in df.groupby("_group", sort=True):
        messages = []
        for role, text in zip(group["speaker"], group["text"], strict=True):
            if messages and messages[-1]["role"] == role:
                messages[-1]["content"] += "\n\n" + text
            else:
                messages.append({"role": role, "content": text})
        if any(m["role"] == "assistant" for m in messages):
            out.write(orjson.dumps({"messages": messages}) + b"\n")
