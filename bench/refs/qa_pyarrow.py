"""Reference: Parquet Q/A → chat JSONL with pyarrow + orjson in 4,096-row batches.
argv: input.parquet output.jsonl"""
import sys

import orjson
import pyarrow.parquet as pq

with open(sys.argv[2], "wb") as out:
    for batch in pq.ParquetFile(sys.argv[1]).iter_batches(batch_size=4096,
                                                          columns=["question", "answer"]):
        for q, a in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            out.write(orjson.dumps({"messages": [{"role": "user", "content": q},
                                                 {"role": "assistant", "content": a}]}) + b"\n")
