#!/usr/bin/env python3
"""Figures engine_replay_test expects, computed from `trace-cmd report -R -t`
output (tests/data/tracedat/*.raw-report.txt) independently of the engine.

Usage: report_figures.py tests/data/tracedat/v7.raw-report.txt > FIGURES

Bazel runs it (genrule replay_figures in daemon/agg/BUILD.bazel) and the
test reads its output. One figure per line, "NAME<TAB>VALUE"; a name that
stands for rows repeats, one line per row in the engine's order, written as
engine_replay_test's Rows() writes them ("key=count" or "key=count/sum",
"pid,comm" for two keys, "other" for what top_n leaves out).

Pairing follows the engine's documented rules (docs/aggregation.md): starts
and ends in report order (timestamp, then CPU); a second start of a pending
key replaces it; cpu_time gives each CPU's slice between two switches to
prev_pid, leaving out the idle task and the first switch seen on each CPU.
"""
import collections
import re
import sys

LINE = re.compile(r'^\S+:\s+(.+)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\w+):\s+(.*)$')


def fields(text):
  return dict(re.findall(r'(\w+)=(\S+)', text))


def rows(stats, top_n=None, by_sum=False, with_sum=False):
  """stats: {key: [count, sum]}. Orders by count (or sum) descending, ties by
  key; keeps top_n and folds the rest into "other"."""
  def key_text(key):
    return ','.join(str(k) for k in key) if isinstance(key, tuple) else str(key)

  def text(name, count, total):
    return f'{name}={count}/{total}' if with_sum else f'{name}={count}'

  ordered = sorted(stats.items(),
                   key=lambda kv: (-kv[1][1] if by_sum else -kv[1][0], kv[0]))
  kept = ordered if top_n is None else ordered[:top_n]
  out = [text(key_text(k), v[0], v[1]) for k, v in kept]
  rest = ordered[len(kept):]
  if rest:
    out.append(text('other', sum(v[0] for _, v in rest),
                    sum(v[1] for _, v in rest)))
  return out


def figures(path):
  events = []
  for line in open(path):
    m = LINE.match(line.rstrip('\n'))
    if not m:
      continue
    _, pid, cpu, sec, ns, name, rest = m.groups()
    ts = int(sec) * 10**9 + int(ns.ljust(9, '0'))
    events.append((ts, int(cpu), int(pid), name, fields(rest)))
  out = []

  switches = collections.defaultdict(lambda: [0, 0])
  for e in events:
    if e[3] == 'sched_switch':
      switches[e[4]['prev_comm']][0] += 1
  out += [('switches', r) for r in rows(switches, top_n=5)]

  syscalls = collections.defaultdict(lambda: [0, 0])
  for e in events:
    if e[3] == 'sys_enter':
      syscalls[int(e[4]['id'])][0] += 1
  out += [('syscalls', r) for r in rows(syscalls)]

  last = {}
  on_cpu = collections.defaultdict(lambda: [0, 0])
  unknown = matched = 0
  for ts, cpu, _, name, f in events:
    if name != 'sched_switch':
      continue
    prev = int(f['prev_pid'])
    start = last.get(cpu)
    last[cpu] = ts
    if prev == 0:
      continue
    if start is None:
      unknown += 1
      continue
    matched += 1
    slot = on_cpu[(prev, f['prev_comm'])]
    slot[0] += 1
    slot[1] += ts - start
  out += [('cpu', r) for r in rows(on_cpu, top_n=5, by_sum=True,
                                   with_sum=True)]
  out += [('cpu.unknown_slice_starts', unknown),
          ('cpu.events_matched', matched)]

  pending = {}
  wake = collections.defaultdict(lambda: [0, 0])
  starts = replaced = ends = unmatched = 0
  for ts, cpu, _, name, f in events:
    if name == 'sched_waking':
      starts += 1
      pid = int(f['pid'])
      if pid in pending:
        replaced += 1
      pending[pid] = ts
    elif name == 'sched_switch':
      ends += 1
      nxt = int(f['next_pid'])
      if nxt not in pending:
        unmatched += 1
        continue
      wake[f['next_comm']][0] += 1
      wake[f['next_comm']][1] += ts - pending.pop(nxt)
  out += [('wakeup', r) for r in rows(wake, top_n=5, with_sum=True)]
  out += [('wakeup.starts', starts), ('wakeup.replaced_starts', replaced),
          ('wakeup.ends', ends), ('wakeup.unmatched_ends', unmatched)]

  pending = {}
  latency = collections.defaultdict(lambda: [0, 0])
  unmatched = 0
  for ts, cpu, pid, name, f in events:
    if name == 'sys_enter':
      pending[pid] = ts
    elif name == 'sys_exit':
      if pid not in pending:
        unmatched += 1
        continue
      latency[int(f['id'])][0] += 1
      latency[int(f['id'])][1] += ts - pending.pop(pid)
  out += [('syscall_latency', r) for r in rows(latency, with_sum=True)]
  out += [('syscall_latency.unmatched_ends', unmatched)]

  # Span of the capture, for the count of 10 ms windows.
  out += [('span_ns', events[-1][0] - events[0][0])]
  return out


def main(path):
  for name, value in figures(path):
    print(f'{name}\t{value}')


if __name__ == '__main__':
  main(sys.argv[1])
