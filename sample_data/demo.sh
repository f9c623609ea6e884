#!/bin/sh
# The whole pipeline on sample_data/, written into demo_out/. Run by `make demo`.
# Each step shows the command and its real output; a step that exits with another code than
# the one expected stops the demo (exit 1 = the data has findings, which some steps show on purpose).
set -u
out=demo_out
rm -rf "$out" && mkdir -p "$out"

run() {  # run EXPECTED_EXIT COMMAND...
    expected=$1; shift
    shown='$'
    for a in "$@"; do  # quote arguments with spaces or braces so the line can be pasted
        case $a in *' '*|*'{'*) shown="$shown '$a'" ;; *) shown="$shown $a" ;; esac
    done
    printf '\n\033[1m%s\033[0m\n' "$shown"
    "$@"
    code=$?
    if [ "$code" -ne "$expected" ]; then
        echo "demo: '$*' exited $code, expected $expected" >&2
        exit 1
    fi
}

echo "== 1. convert: tables and flat conversations → chat JSONL"
run 1 ftprep convert sample_data/qa.csv -o "$out/qa.jsonl" \
    --system-prompt "You answer questions using only the given context." \
    --user-template 'Q: {question}\nContext: {context}' --assistant answer
run 0 ftprep convert sample_data/conversations_flat.csv -o "$out/conversations.jsonl" \
    --group-by conversation_id --order-by turn --role-column speaker --content-column text \
    --role-map human=user,bot=assistant

echo; echo "== 2. validate: every finding with its line, path and rule code"
run 0 ftprep validate "$out/qa.jsonl"
run 1 ftprep validate sample_data/defects.jsonl
run 0 ftprep rules FT401

echo; echo "== 3. count: tokens against the model's limit"
run 0 ftprep count "$out/qa.jsonl" --model gpt-4.1-mini

echo; echo "== 4. split: reproducible, leakage-free"
run 0 ftprep split "$out/qa.jsonl" --test 10 --seed 7 -o "$out/split"

echo; echo "== 5. estimate: what training will cost"
run 0 ftprep estimate "$out/split/train.jsonl" --model gpt-4.1-mini --epochs 3
run 0 ftprep models info gpt-4.1-mini

echo; echo "== 6. submit (dry run: shows exactly what would be sent, sends nothing)"
run 0 ftprep submit "$out/split/train.jsonl" --validation "$out/split/test.jsonl" \
    --model gpt-4.1-mini --epochs 3 --suffix demo --dry-run --yes

echo; echo "== 7. eval (dry run: requests, upper-bound cost and the first requests exactly; sends nothing)"
# A real eval needs a served model; the demo stays offline (README: a session against a local server).
run 0 ftprep eval "$out/split/test.jsonl" --model gpt-4.1-mini \
    --model ft:gpt-4.1-mini-2025-04-14:acme:demo:abc123 --limit 1 --dry-run

echo; echo "== 8. report: one self-contained page to look at before paying (open it in a browser)"
run 0 ftprep report "$out/qa.jsonl" --model gpt-4.1-mini --model gpt-4o-mini \
    --split "$out/split" -o "$out/report.html"

echo; echo "demo finished: outputs in $out/"
