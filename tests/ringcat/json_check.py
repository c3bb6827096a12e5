#!/usr/bin/python3
"""Checks ringcat's JSON lines against docs/ringcat-json.md with a strict
parser, and against `trace-cmd report -R -t` of the same file.

Usage: json_check.py RINGCAT_JSONL RAW_REPORT

- Every line is one JSON object; a duplicate key anywhere fails (Python's
  json keeps the last one silently; object_pairs_hook sees them all).
- Every record has exactly the envelope keys of the schema, with their types.
- Record i has the CPU, timestamp (ns), event name and pid of event line i of
  the report: an event field named like an envelope key (cpu, ts, ...) cannot
  shadow the record's own.
"""
import json
import re
import sys

ENVELOPE = {"cpu", "ts", "event", "pid", "fields"}
UNKNOWN = {"cpu", "ts", "event", "id", "length"}
REPORT_EVENT = re.compile(
    r"-(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+([\w.-]+):")


class DuplicateKey(ValueError):
    pass


def strict_object(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey("duplicate key %r" % key)
        seen[key] = value
    return seen


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_value(v):
    """Field values: integer, string, null, or an array of integers."""
    if v is None or is_int(v) or isinstance(v, str):
        return True
    return isinstance(v, list) and all(is_int(x) for x in v)


def main(jsonl_path, report_path):
    failures = []
    records = []
    with open(jsonl_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line, object_pairs_hook=strict_object)
            except ValueError as e:
                failures.append("line %d: %s" % (n, e))
                continue
            keys = set(rec)
            if rec.get("event") is None:
                ok = keys == UNKNOWN and is_int(rec["id"]) and is_int(rec["length"])
            else:
                ok = (keys == ENVELOPE and isinstance(rec["event"], str)
                      and "/" in rec["event"]
                      and (rec["pid"] is None or is_int(rec["pid"]))
                      and isinstance(rec["fields"], dict)
                      and all(check_value(v) for v in rec["fields"].values()))
            if not (ok and is_int(rec.get("cpu")) and is_int(rec.get("ts"))):
                failures.append("line %d: does not fit the schema: %s" %
                                (n, line[:200]))
                continue
            records.append(rec)
    expected = []
    with open(report_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = REPORT_EVENT.search(line)
            if m:
                pid, cpu, sec, nsec, name = m.groups()
                expected.append((int(cpu), int(sec) * 10**9 + int(nsec), name,
                                 int(pid)))
    if len(records) != len(expected):
        failures.append("%d records, the report has %d events" %
                        (len(records), len(expected)))
    for i, (rec, want) in enumerate(zip(records, expected)):
        got = (rec["cpu"], rec["ts"], rec["event"].split("/", 1)[1], rec["pid"])
        if got != want:
            failures.append("record %d: cpu/ts/event/pid %r, report %r" %
                            (i, got, want))
            break
    shadowing = sum(1 for r in records
                    if r.get("fields") and ENVELOPE & set(r["fields"]))
    types = len({r["event"] for r in records})
    for f in failures[:20]:
        print("FAIL:", f, file=sys.stderr)
    if failures:
        return 1
    print("json_check: %d records of %d event types parsed strictly; %d carry "
          "a field named like an envelope key" % (len(records), types, shadowing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
