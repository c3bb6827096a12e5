#!/usr/bin/env python3
"""Figures the replay tests expect, computed from `trace-cmd report -R -t`
output (tests/data/tracedat/*.raw-report.txt) independently of the engine.

Usage: report_figures.py tests/data/tracedat/v7.raw-report.txt

Pairing follows the engine's documented rules: starts and ends in report
order (timestamp, then CPU); a second start of a pending key replaces it;
cpu_time gives each CPU's slice between two switches to prev_pid, leaving out
the idle task and the first switch seen on each CPU.
"""
import collections
import re
import sys

LINE = re.compile(r'^\S+:\s+(.+)-(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\w+):\s+(.*)$')


def fields(text):
    return dict(re.findall(r'(\w+)=(\S+)', text))


def main(path):
    events = []
    for line in open(path):
        m = LINE.match(line.rstrip('\n'))
        if not m:
            continue
        _, pid, cpu, sec, ns, name, rest = m.groups()
        ts = int(sec) * 10**9 + int(ns.ljust(9, '0'))
        events.append((ts, int(cpu), int(pid), name, fields(rest)))

    counts = collections.Counter(e[3] for e in events)
    print('events', dict(counts))
    print('first_ts', events[0][0], 'last_ts', events[-1][0])

    by_prev_comm = collections.Counter(
        e[4]['prev_comm'] for e in events if e[3] == 'sched_switch')
    print('switches by prev_comm', sorted(by_prev_comm.items(), key=lambda x: (-x[1], x[0]))[:5])

    by_id = collections.Counter(int(e[4]['id']) for e in events if e[3] == 'sys_enter')
    print('sys_enter by id', sorted(by_id.items(), key=lambda x: (-x[1], x[0])))

    last = {}
    on_cpu = collections.defaultdict(lambda: [0, 0])
    unknown = idle = 0
    for ts, cpu, _, name, f in events:
        if name != 'sched_switch':
            continue
        prev = int(f['prev_pid'])
        start = last.get(cpu)
        last[cpu] = ts
        if prev == 0:
            idle += 1
            continue
        if start is None:
            unknown += 1
            continue
        on_cpu[prev][0] += 1
        on_cpu[prev][1] += ts - start
    top = sorted(on_cpu.items(), key=lambda x: (-x[1][1], x[0]))
    print('cpu_time top', top[:5], 'idle', idle, 'unknown', unknown,
          'total_ns', sum(v[1] for v in on_cpu.values()),
          'switches', sum(v[0] for v in on_cpu.values()))

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
    print('wakeup', sorted(wake.items(), key=lambda x: (-x[1][0], x[0]))[:5],
          'starts', starts, 'replaced', replaced, 'ends', ends,
          'unmatched', unmatched, 'pending', len(pending),
          'samples', sum(v[0] for v in wake.values()),
          'total_ns', sum(v[1] for v in wake.values()))

    pending = {}
    sl = collections.defaultdict(lambda: [0, 0])
    unmatched = 0
    for ts, cpu, pid, name, f in events:
        if name == 'sys_enter':
            pending[pid] = ts
        elif name == 'sys_exit':
            if pid not in pending:
                unmatched += 1
                continue
            sl[int(f['id'])][0] += 1
            sl[int(f['id'])][1] += ts - pending.pop(pid)
    print('syscall latency', sorted(sl.items()), 'unmatched', unmatched,
          'pending', len(pending))


if __name__ == '__main__':
    main(sys.argv[1])
