"""`export`: a dataset in a target's shape, atomically, with a summary and a rejects file.

The input is streamed line by line; each record is converted by the target family's writer
or rejected with a stable reason and its line. Outputs that belong together (the data, the
rejects, a trainer's config fragment) are committed together: each is written to a temporary
file and all are renamed only once everything is written. `read`, `written` and `rejected`
are counted independently, at the three places they happen, so that `reconciled` is a check.
Memory stays flat for JSONL; `--format parquet` holds the output rows until the table is
written (about the size of the output).
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ftprep.errors import InputError, UsageError
from ftprep.formats import FORMATS, detect_format
from ftprep.io.jsonl import dumps_line, open_binary, parse_line
from ftprep.io.writer import atomic_writer
from ftprep.targets.base import (
    WEIGHT0_CHOICES,
    ExportContext,
    Refuse,
    Weight0Required,
    Writer,
    escaped,
)
from ftprep.targets.registry import TargetInfo, get_target

BOM = b"\xef\xbb\xbf"
FILE_FORMATS = ("jsonl", "parquet")


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str  # stable key, e.g. "not-alternating"
    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "path": self.path, "message": self.message}


@dataclass
class ExportResult:
    """What `export_file` did. `changes` counts examples per kind of change (stable keys),
    `dropped_keys` the keys removed because the target refuses them."""

    input: str
    output: str
    target: str
    file_format: str
    record_format: str
    read: int = 0
    written: int = 0
    rejected: int = 0
    blank_lines: int = 0
    bom_added: bool = False
    reasons: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    dropped_keys: dict[str, int] = field(default_factory=dict)
    rejects_path: str | None = None
    companions: list[str] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return self.read == self.written + self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "target": self.target,
            "file_format": self.file_format,
            "record_format": self.record_format,
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected,
            "reconciled": self.reconciled,
            "blank_lines": self.blank_lines,
            "bom_added": self.bom_added,
            "reasons": dict(sorted(self.reasons.items())),
            "changes": dict(sorted(self.changes.items())),
            "dropped_keys": dict(sorted(self.dropped_keys.items())),
            "rejects_path": self.rejects_path,
            "companions": self.companions,
        }


def writer_for(target: TargetInfo) -> Writer:
    """The writer of the target's family (imported on demand: each is a small module)."""
    from ftprep.targets import axolotl, bedrock, llama_factory, openai_like, trl, vertex

    writers: dict[str, Any] = {
        "openai": openai_like.OpenAIWriter, "azure": openai_like.OpenAIWriter,
        "together": openai_like.StrictWriter, "fireworks": openai_like.StrictWriter,
        "bedrock": bedrock.BedrockWriter, "vertex": vertex.VertexWriter, "trl": trl.TRLWriter,
        "axolotl": axolotl.AxolotlWriter, "llama-factory": llama_factory.LlamaFactoryWriter,
    }
    if target.name not in writers:
        raise UsageError(f"no export writer for target {target.name!r} "
                         f"(writers: {', '.join(writers)})")
    writer: Writer = writers[target.name]()
    return writer


def export_file(
    path: str | Path,
    to: str,
    out: str | Path,
    *,
    rejects: str | Path | None = None,
    weight0: str | None = None,
    file_format: str | None = None,
    targets_file: str | Path | None = None,
) -> ExportResult:
    """Write the records of `path` (OpenAI chat/preference JSONL) in the shape of target `to`
    to `out`; examples that cannot be expressed go to `rejects` (default: OUT's name with
    `.rejects.jsonl`). `file_format` is jsonl or parquet (default: parquet when OUT ends in
    `.parquet`). `weight0` says what happens to weight-0 assistant turns where the
    target cannot express them: drop-example or keep-as-context (required when there are)."""
    target = get_target(to, targets_file)
    writer = writer_for(target)
    if weight0 is not None and weight0 not in WEIGHT0_CHOICES:
        raise UsageError(f"weight0={weight0!r}: expected one of {', '.join(WEIGHT0_CHOICES)}")
    if file_format is None:  # from the output's name: train.parquet is Parquet
        file_format = "parquet" if str(out).endswith(".parquet") else "jsonl"
    if file_format not in FILE_FORMATS:
        raise UsageError(f"file_format={file_format!r}: expected one of {', '.join(FILE_FORMATS)}")
    if file_format == "parquet" and not getattr(writer, "parquet", False):
        raise UsageError(f"file_format=parquet: {target.name} export writes JSONL only")
    if str(out) == "-":
        raise UsageError("out='-': export writes files (the data and its rejects), not stdout")
    out_path = Path(out)
    if str(path) != "-" and Path(path).resolve() == out_path.resolve():
        raise UsageError(f"out={out}: the same file as the input")
    rejects_path = Path(rejects) if rejects else _rejects_name(out_path)
    result = ExportResult(str(path), str(out_path), target.name, file_format, "")
    ctx = ExportContext(target, "", weight0)
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(atomic_writer(out_path))
        run = _Run(result, ctx, writer, stack, rejects_path, sink, file_format)
        run.stream(path)
        if file_format == "parquet":
            _write_parquet(sink, run.rows)
        for companion, data in writer.companions(out_path, ctx, result.written).items():
            stack.enter_context(atomic_writer(companion)).write(data)  # renamed with the data
            result.companions.append(str(companion))
    if not result.rejected:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(rejects_path)  # an earlier run's rejects describe another output
    else:
        result.rejects_path = str(rejects_path)
    result.changes = dict(ctx.changes)
    result.dropped_keys = dict(ctx.dropped)
    return result


def _rejects_name(out: Path) -> Path:
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.rejects.jsonl")


class _Run:
    """One pass over the input: converts, writes and rejects, counting each independently."""

    def __init__(self, result: ExportResult, ctx: ExportContext, writer: Writer,
                 stack: contextlib.ExitStack, rejects_path: Path, sink: IO[bytes],
                 file_format: str) -> None:
        self.result, self.ctx, self.writer, self.stack = result, ctx, writer, stack
        self.rejects_path, self.sink, self.file_format = rejects_path, sink, file_format
        self.rejects_file: IO[bytes] | None = None
        self.reasons: Counter[str] = Counter()
        self.rows: list[dict] = []
        self.keep_bytes = bool(getattr(writer, "keep_bytes", False))

    def stream(self, path: str | Path) -> None:
        f = open_binary(path)
        try:
            for line, raw in enumerate(f, start=1):
                if line == 1 and raw.startswith(BOM):
                    raw = raw[len(BOM):]
                if line == 1 and self.ctx.target.needs_bom:
                    self.sink.write(BOM)
                    self.result.bom_added = True
                self._line(line, raw)
        except OSError as e:
            raise InputError(f"read failed: {e}", path=str(path)) from None
        finally:
            if f is not sys.stdin.buffer:
                f.close()
        self.result.reasons = dict(self.reasons)

    def _line(self, line: int, raw: bytes) -> None:
        body = raw.rstrip(b"\r\n")
        if not body.strip():
            self.result.blank_lines += 1
            return
        self.result.read += 1
        jl = parse_line(body, line)
        if jl.error:
            self._reject(Reject(line, f"invalid-{'utf8' if jl.error == 'utf8' else 'json'}", "",
                                escaped(jl.detail)))
            return
        record = jl.value
        if not isinstance(record, dict):
            self._reject(Reject(line, "not-an-object", "", "the line is not a JSON object"))
            return
        fmt = detect_format(record)
        if not self.ctx.format:
            self._start(fmt, line)
        if fmt != self.ctx.format:
            self._reject(Reject(line, "mixed-format", "",
                                f"a {fmt} record in a {self.ctx.format} file"))
            return
        try:
            converted = self.writer.convert(record, self.ctx)
        except Refuse as r:
            self._reject(Reject(line, r.reason, r.path, r.message))
            return
        except Weight0Required as e:
            raise Weight0Required(e.path, e.target, line) from None
        self._write(converted, raw if converted is record and self.keep_bytes else None, line)

    def _start(self, fmt: str, line: int) -> None:
        if fmt not in FORMATS:
            raise InputError("not a chat, preference or completion record", line=line,
                             path=self.result.input)
        if fmt not in self.ctx.target.formats:
            raise UsageError(f"{self.result.input} holds {fmt} data; {self.ctx.target.name} "
                             f"accepts: {', '.join(self.ctx.target.formats)}")
        self.ctx.format = self.result.record_format = fmt

    def _write(self, record: dict, raw: bytes | None, line: int) -> None:
        if self.file_format == "parquet":
            self.rows.append(record)
        elif raw is not None:
            self.sink.write(raw)  # the input's bytes, line ending included
        else:
            data = _dumps(record)
            if data is None:
                self._reject(Reject(line, "unserialisable", "", "the converted record cannot be "
                                    "written as JSON (nested too deeply)"))
                return
            self.sink.write(data)
        self.result.written += 1

    def _reject(self, reject: Reject) -> None:
        if self.rejects_file is None:
            self.rejects_file = self.stack.enter_context(atomic_writer(self.rejects_path))
        self.rejects_file.write(dumps_line(reject.to_dict()))
        self.result.rejected += 1
        self.reasons[reject.reason] += 1


def _dumps(record: Any) -> bytes | None:
    """One JSONL line; lone surrogates (legal JSON, refused by orjson) are written as \\u
    escapes; None when the value is nested beyond what can be serialised."""
    try:
        return dumps_line(record)
    except (TypeError, ValueError):
        pass
    try:
        return (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")
    except (RecursionError, ValueError, TypeError):
        return None


def _write_parquet(sink: IO[bytes], rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows)
    pq.write_table(table, sink)


def copy_without_refused_keys(
    path: str | Path, directory: str | Path, to: str = "openai"
) -> ExportResult | None:
    """For `submit`: when `path` has keys the platform refuses (e.g. a top-level `metadata`),
    write a copy without them into `directory`, under the same file name; every other line
    keeps its bytes. None (and no copy) when the file can be uploaded as it is, or when
    making the copy would also drop lines (unreadable ones: `submit --force` sends those as
    they are)."""
    out = Path(directory) / Path(path).name
    if Path(path).resolve() == out.resolve():
        return None
    result = export_file(path, to, out, rejects=out.with_name(f".{out.name}.rejects.jsonl"))
    if result.dropped_keys and not result.rejected:
        return result
    for leftover in (out, Path(result.rejects_path or "")):
        if leftover.name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return None


__all__ = ["ExportResult", "Reject", "copy_without_refused_keys", "export_file"]
