"""Checks what webhook_receiver.py kept: nothing rejected, every tampered copy refused,
and, once repeats are dropped by webhook-id, changes 1 to EXPECTED each once, in order.

    LOG=received.jsonl EXPECTED=25 python webhook_check.py
"""

import json
import os
import sys

entries = [json.loads(line) for line in open(os.environ["LOG"])]
expected = int(os.environ["EXPECTED"])
rejected = [e for e in entries if "rejected" in e]
kept = [e for e in entries if "rejected" not in e]
problems = []
if rejected:
    problems.append(f"deliveries the package could not verify: {rejected}")
if not all(e["tamper_refused"] for e in kept):
    problems.append("a tampered body passed verification")
seen, order = set(), []
for e in kept:
    if e["id"] in seen:
        continue
    seen.add(e["id"])
    order.append(e["seq"])
if order != list(range(1, expected + 1)):
    problems.append(f"changes after dropping repeats: {order}, expected 1..{expected}")
ids = {}
for e in kept:
    ids.setdefault(e["seq"], set()).add(e["id"])
if any(len(v) != 1 for v in ids.values()):
    problems.append(f"a change arrived under two ids: {ids}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"webhooks: {len(kept)} deliveries verified by standardwebhooks, "
      f"{len(kept) - len(order)} repeats dropped by id, changes 1..{expected} in order")
