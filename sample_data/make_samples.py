"""Regenerate the conversion samples in this folder (deterministic: same bytes every run).

    python sample_data/make_samples.py

Writes qa.csv, qa.parquet, support.jsonl, conversations_flat.csv, chinese_gb18030.csv and
sharegpt.json and leaky.jsonl. Two Q/A rows have empty answers on purpose: `ftprep convert` must reject them.
"""
from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (question, context, answer) about a fictional note-taking app, "Tern Notes".
QA = [
    ("How do I export all my notes?", "Settings > Data has Export.", "Open Settings, choose Data, then Export. You get a ZIP of Markdown files."),
    ("Can I use Tern Notes offline?", "The desktop app caches everything locally.", "Yes. The desktop app works offline and syncs when you reconnect."),
    ("How many devices can I sync?", "Free plan: 2 devices. Pro: unlimited.", "Two on the free plan; Pro removes the limit."),
    ("Where is the trash?", "Deleted notes stay in Trash for 30 days.", "In the sidebar under Trash. Notes stay there for 30 days before they are removed."),
    ("How do I share a notebook?", "Sharing requires Pro on the owner's account.", "Right-click the notebook, choose Share and enter an email address. The owner needs Pro."),
    ("Is my data encrypted?", "AES-256 at rest, TLS 1.3 in transit.", "Yes: AES-256 at rest and TLS 1.3 in transit."),
    ("Can I import from Evernote?", "Import accepts ENEX files.", "Yes. Export an ENEX file from Evernote, then use File > Import."),
    ("How do I change the font size?", "Appearance settings include text size.", "Settings > Appearance > Text size. Ctrl+Plus also works in the editor."),
    ("What does the lock icon mean?", "Locked notes need the vault password.", "The note is in your vault and needs the vault password to open."),
    ("How do I reset my vault password?", "Vault passwords cannot be recovered.", ""),
    ("Can I add images to a note?", "Drag and drop or paste images.", "Yes. Paste an image or drag it into the editor."),
    ("Does Tern Notes support Markdown?", "The editor renders CommonMark.", "Yes, CommonMark with tables and task lists."),
    ("How do I create a checklist?", "Type [ ] at the start of a line.", "Start a line with [ ] and a space; click the box to tick it."),
    ("How do I cancel my subscription?", "Billing is managed in Account.", "Account > Billing > Cancel plan. You keep Pro until the period ends."),
    ("Can I get a refund?", "Refunds within 14 days of purchase.", "Yes, within 14 days of purchase. Write to support from Account > Help."),
    ("Why are my notes not syncing?", "Sync needs sign-in and network access.", "Check that you are signed in and online, then use Sync now from the menu."),
    ("How do I tag a note?", "Tags start with #.", "Type # followed by the tag name anywhere in the note."),
    ("Can I search inside PDFs?", "Pro indexes attached PDFs.", "On Pro, yes: attached PDFs are indexed for search."),
    ("What is the maximum note size?", "Notes up to 25 MB including attachments.", "25 MB per note, attachments included."),
    ("How do I pin a note?", "Pinned notes stay at the top of the list.", "Right-click the note and choose Pin."),
    ("Is there a dark mode?", "Appearance offers Light, Dark and System.", "Yes. Settings > Appearance > Theme > Dark."),
    ("Can I collaborate in real time?", "Real-time editing is on the roadmap.", ""),
    ("How do I restore an old version?", "History keeps 60 days of versions on Pro.", "Open the note, choose History, pick a version and Restore."),
    ("Which platforms are supported?", "Windows, macOS, Linux, iOS, Android, web.", "Windows, macOS, Linux, iOS, Android and the web."),
    ("How do I link two notes?", "Wiki links use double brackets.", "Type [[ and the other note's title."),
    ("Can I print a note?", "Print is in the File menu.", "File > Print, or Ctrl+P."),
    ("How do I move notes between notebooks?", "Drag notes onto a notebook in the sidebar.", "Drag the note onto the notebook, or use Move to... from its menu."),
    ("Does the web app need an install?", "The web app runs in any modern browser.", "No, just sign in at the web address in any modern browser."),
    ("How many notebooks can I create?", "There is no limit on notebooks.", "As many as you like."),
    ("How do I delete my account?", "Account deletion is permanent after 7 days.", "Account > Privacy > Delete account. It becomes permanent after 7 days."),
]

ALPACA = [
    {"instruction": "Summarise the ticket in one sentence.", "input": "Customer cannot log in after resetting the password; the reset email arrived twice.", "output": "The customer is locked out after a password reset that sent two emails.", "ticket_id": 1041, "priority": "high"},
    {"instruction": "Classify the sentiment of the message as positive, neutral or negative.", "input": "The new sync is so much faster, thanks!", "output": "positive", "ticket_id": 1042, "priority": "low"},
    {"instruction": "Write a polite reply declining a refund after 30 days.", "input": "", "output": "Thank you for reaching out. Refunds are available within 14 days of purchase, so we cannot refund this order, but we are happy to help with any problem you have.", "ticket_id": 1043, "priority": "normal"},
    {"instruction": "Extract the app version from the report.", "input": "Running Tern Notes 4.2.1 on macOS 14, editor freezes on paste.", "output": "4.2.1", "ticket_id": 1044, "priority": "normal"},
    {"instruction": "Translate the sentence to French.", "input": "Your notes are safe.", "output": "Vos notes sont en sécurité.", "ticket_id": 1045, "priority": "low"},
    {"instruction": "Suggest a next troubleshooting step.", "input": "Sync icon spins forever on Android.", "output": None, "ticket_id": 1046, "priority": "high"},
]

CONVERSATIONS = [
    ("c-100", [("human", "Hi, my notes vanished after the update."), ("bot", "Sorry to hear that! Are you signed in with the same account as before?"), ("human", "Yes, same email."), ("bot", "Then they are safe on the server. Open Settings > Sync and press Sync now."), ("human", "That worked, thanks!"), ("bot", "Glad to help!")]),
    ("c-101", [("human", "How do I turn on dark mode?"), ("bot", "Settings > Appearance > Theme, then pick Dark.")]),
    ("c-102", [("human", "I was charged twice."), ("human", "Order numbers 5531 and 5532."), ("bot", "I can see both charges. I have refunded 5532; it takes 3-5 business days."), ("human", "Great."), ("bot", "Anything else I can do?"), ("human", "No, that's all."), ("bot", "Have a nice day!"), ("human", "You too."), ("bot", "Thanks!"), ("human", "Bye"), ("bot", "Bye!")]),
    ("c-103", [("human", "Can I export to PDF?"), ("bot", "Yes: File > Export > PDF."), ("human", "And a whole notebook?"), ("bot", "Right-click the notebook and choose Export as PDF.")]),
]

SHAREGPT = [
    {"id": "sg-1", "conversations": [
        {"from": "system", "value": "You are the Tern Notes support assistant."},
        {"from": "human", "value": "How do I lock a note?"},
        {"from": "gpt", "value": "Open the note's menu and choose Move to vault. You will be asked for the vault password."},
    ]},
    {"id": "sg-2", "conversations": [
        {"from": "human", "value": "Is there a keyboard shortcut for search?"},
        {"from": "gpt", "value": "Ctrl+K (Cmd+K on macOS) opens search anywhere."},
        {"from": "human", "value": "And for a new note?"},
        {"from": "gpt", "value": "Ctrl+N, or Cmd+N on macOS."},
    ]},
    {"id": "sg-3", "conversations": [
        {"from": "user", "value": "Which file types can I attach?"},
        {"from": "assistant", "value": "Any file up to 25 MB; images and PDFs get a preview."},
    ]},
]

CHINESE = [
    ("如何导出笔记？", "打开设置，选择数据，然后点击导出。"),
    ("可以离线使用吗？", "可以，桌面版离线可用，联网后自动同步。"),
    ("怎样开启深色模式？", "设置 > 外观 > 主题 > 深色。"),
    ("忘记保险库密码怎么办？", "保险库密码无法找回，请妥善保管。"),
]


# Secrets and personal data for `validate` (FT9xx) and `convert --redact`; the AWS key is AWS's
# documented example key, the card a test number, the OpenAI key made up.
LEAKY = [
    {"messages": [{"role": "user", "content": "My OpenAI key is sk-proj-Q7vX2mN9pL4kJ8hG3fD6sA1zR5tY0uW2eB7c, why does it fail?"},
                  {"role": "assistant", "content": "Never share keys. Revoke it in the dashboard now."}]},
    {"messages": [{"role": "user", "content": "Can you deploy it?"},
                  {"role": "assistant", "content": "Use the key AKIAIOSFODNN7EXAMPLE for now."}]},
    {"messages": [{"role": "user", "content": "Charge my card 4111 1111 1111 1111 for Pro"},
                  {"role": "assistant", "content": "I cannot take card numbers in chat; use Settings > Billing."}]},
    {"messages": [{"role": "user", "content": "Email the invoice to jane.doe@example.com"},
                  {"role": "assistant", "content": "Done: it goes to the address on your account."}]},
]


def write_text(name: str, text: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(text.encode(encoding))


def csv_text(header: list[str], rows: list[tuple[object, ...]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def flat_conversation_rows() -> list[tuple[object, ...]]:
    """One row per turn, shuffled so that conversations interleave and turns are out of order
    (turn 10 of c-102 makes numeric ordering matter: as text, "10" < "2")."""
    rows = [
        (cid, turn, speaker, text)
        for cid, turns in CONVERSATIONS
        for turn, (speaker, text) in enumerate(turns, start=1)
    ]
    random.Random(7).shuffle(rows)
    return rows


def write_parquet() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = QA[:20]
    table = pa.table({
        "id": pa.array(range(1, len(rows) + 1), pa.int64()),
        "question": [q for q, _, _ in rows],
        "context": [c for _, c, _ in rows],
        # None, not "": Parquet nulls must be rejected too, never written as "None".
        "answer": [a or None for _, _, a in rows],
    })
    pq.write_table(table, HERE / "qa.parquet", compression="snappy")


def main() -> None:
    write_text("qa.csv", csv_text(["question", "context", "answer"], QA))
    write_parquet()
    write_text("support.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ALPACA))
    header = ["conversation_id", "turn", "speaker", "text"]
    write_text("conversations_flat.csv", csv_text(header, flat_conversation_rows()))
    write_text("chinese_gb18030.csv", csv_text(["问题", "回答"], CHINESE), encoding="gb18030")
    write_text("sharegpt.json", json.dumps(SHAREGPT, ensure_ascii=False, indent=2) + "\n")
    write_text("leaky.jsonl", "".join(json.dumps(r) + "\n" for r in LEAKY))


if __name__ == "__main__":
    main()
