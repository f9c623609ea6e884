"""Reference: the cookbook loop a user would write (json.loads per line, tiktoken per string).
Prints the total token count."""
import json
import sys

from ftprep.tokens import get_encoding  # tiktoken's own encoder, from the same offline data

enc = get_encoding(sys.argv[2])
total = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        n = 3
        for message in json.loads(line)["messages"]:
            n += 3
            for key, value in message.items():
                n += len(enc.encode(value)) + (1 if key == "name" else 0)
        total += n
print(total)
