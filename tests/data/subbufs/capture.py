#!/usr/bin/env python3
"""Captures ring-buffer sub-buffers from the running kernel for the decoder tests.

Each scenario runs in its own tracefs instance (instances/rwcap_<pid>, removed
when done, stale ones of dead captures removed first), produces load, stops
tracing, saves the kernel's own text rendering (`trace`, read before anything
consumes the buffer) and then reads whole sub-buffers from
per_cpu/cpuN/trace_pipe_raw (one sub-buffer per read()).

Usage (as root): tests/data/subbufs/capture.py [OUTPUT_DIR]

Output, per scenario directory:
  cpuN.bin        the sub-buffers read from CPU N, concatenated (page_size each)
  trace.txt       the instance's `trace` file read before the pages
  stats.cpuN.txt  per_cpu/cpuN/stats read before the pages
  markers.txt     every trace_marker string written, in order, as
                  "<cpu> <python repr of the string>"
  info.txt        key=value facts: clock, page size, overrun per CPU...
and formats/ holds header_page, header_event and the format files of the
events enabled.
"""

import ctypes
import errno
import fcntl
import mmap
import os
import re
import struct
import shutil
import sys
import time

TRACEFS = "/sys/kernel/tracing"
EVENTS = [
    ("ftrace", "print"),
    ("sched", "sched_switch"),
    ("sched", "sched_waking"),
    ("raw_syscalls", "sys_enter"),
    ("raw_syscalls", "sys_exit"),
]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


class Instance:
    """A private tracefs instance, removed on exit even when the capture fails."""

    def __init__(self):
        # Scenarios run one after the other, each in a fresh instance.
        self.path = os.path.join(TRACEFS, "instances", "rwcap_%d" % os.getpid())

    def __enter__(self):
        os.mkdir(self.path)
        self.set("tracing_on", "0")
        return self

    def __exit__(self, *exc):
        try:
            self.set("tracing_on", "0")
        finally:
            os.rmdir(self.path)

    def file(self, rel):
        return os.path.join(self.path, rel)

    def set(self, rel, value):
        write(self.file(rel), value)

    def marker(self, text):
        fd = os.open(self.file("trace_marker"), os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def remove_stale():
    # Instances are named rwcap_<pid>; drop those of dead captures.
    inst_dir = os.path.join(TRACEFS, "instances")
    for name in os.listdir(inst_dir):
        pid = name[len("rwcap_"):]
        if name.startswith("rwcap_") and pid.isdigit():
            if not os.path.exists("/proc/" + pid):
                os.rmdir(os.path.join(inst_dir, name))


def read_subbufs(inst, cpu, page_size):
    """Reads every sub-buffer of one CPU; read() returns one whole page."""
    fd = os.open(inst.file("per_cpu/cpu%d/trace_pipe_raw" % cpu),
                 os.O_RDONLY | os.O_NONBLOCK)
    pages = []
    try:
        while True:
            try:
                data = os.read(fd, page_size)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    break
                raise
            if not data:
                break
            if len(data) != page_size:
                raise RuntimeError("cpu%d: short read of %d bytes" %
                                   (cpu, len(data)))
            pages.append(data)
    finally:
        os.close(fd)
    return pages


def marker_text(index, size):
    head = "rw%03d:%d:" % (index, size)
    filler = "abcdefghijklmnopqrstuvwxyz0123456789"
    body = (filler * (size // len(filler) + 1))[:max(0, size - len(head))]
    return (head + body)[:size]


class Scenario:

    def __init__(self, out_dir, name):
        self.dir = os.path.join(out_dir, name)
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        self.markers = []
        self.info = {}

    def marker(self, inst, text):
        inst.marker(text)
        self.markers.append((os.sched_getaffinity(0), text))

    def finish(self, inst, cpus, page_size):
        inst.set("tracing_on", "0")
        # The text rendering first: reading trace_pipe_raw consumes the events.
        write(os.path.join(self.dir, "trace.txt"), read(inst.file("trace")))
        self.info["page_size"] = page_size
        self.info["trace_clock"] = read(inst.file("trace_clock")).split(
            "[")[1].split("]")[0]
        self.info["buffer_size_kb"] = read(inst.file("buffer_size_kb")).strip()
        for cpu in cpus:
            stats = read(inst.file("per_cpu/cpu%d/stats" % cpu))
            write(os.path.join(self.dir, "stats.cpu%d.txt" % cpu), stats)
            for line in stats.splitlines():
                if line.startswith("overrun:"):
                    self.info["overrun.cpu%d" % cpu] = line.split()[1]
        for cpu in cpus:
            pages = read_subbufs(inst, cpu, page_size)
            self.info["pages.cpu%d" % cpu] = len(pages)
            with open(os.path.join(self.dir, "cpu%d.bin" % cpu), "wb") as f:
                for page in pages:
                    f.write(page)
        with open(os.path.join(self.dir, "markers.txt"), "w") as f:
            for cpus_mask, text in self.markers:
                f.write("%d %r\n" % (min(cpus_mask), text))
        with open(os.path.join(self.dir, "info.txt"), "w") as f:
            for key in sorted(self.info):
                f.write("%s=%s\n" % (key, self.info[key]))
        print("%s: %s" % (os.path.basename(self.dir), self.info))


def pin(cpu):
    os.sched_setaffinity(0, {cpu})


def enable_own_events(inst):
    # Only this process: other work on the machine would make the capture
    # large and its content arbitrary.
    inst.set("set_event_pid", str(os.getpid()))
    inst.set("options/event-fork", "0")
    for system, event in EVENTS[1:]:
        inst.set("events/%s/%s/enable" % (system, event), "1")


def capture_basic(out_dir, cpus, page_size):
    """Every record form: short and long markers, sched and syscall events,
    idle gaps longer than 2^27 ns (time extends), page-end padding."""
    sc = Scenario(out_dir, "basic")
    with Instance() as inst:
        inst.set("trace_clock", "local")
        inst.set("buffer_size_kb", "64")
        enable_own_events(inst)
        pin(0)
        inst.set("tracing_on", "1")
        # Payload = 16 bytes of print header + text + "\n\0": text of 94
        # bytes or more no longer fits type_len <= 28 (112 bytes) and takes
        # the type_len == 0 form.
        sizes = [1, 7, 8, 50, 92, 93, 94, 95, 96, 97, 150, 400, 1000, 2000]
        for i, size in enumerate(sizes):
            sc.marker(inst, marker_text(i, size))
            if i in (3, 9):
                time.sleep(0.2)  # An idle gap > 2^27 ns: a time extend.
        for _ in range(300):
            os.getppid()
        sc.marker(inst, "rw-after-syscall-burst")
        time.sleep(0.2)
        sc.marker(inst, "rw-after-gap")
        if len(cpus) > 1:
            pin(cpus[1])
            for i in range(5):
                sc.marker(inst, marker_text(100 + i, 20 + 40 * i))
            pin(0)
        sc.marker(inst, "rw-done")
        sc.finish(inst, cpus, page_size)


def capture_tsc(out_dir, cpus, page_size):
    """With the x86-tsc clock the `trace` file prints raw timestamps, so the
    decoded times can be compared exactly."""
    sc = Scenario(out_dir, "tsc")
    with Instance() as inst:
        inst.set("trace_clock", "x86-tsc")
        inst.set("buffer_size_kb", "16")
        enable_own_events(inst)
        pin(0)
        inst.set("tracing_on", "1")
        for i in range(12):
            sc.marker(inst, marker_text(200 + i, 10 + 30 * i))
            if i % 4 == 3:
                time.sleep(0.1)  # > 2^27 cycles at any clock rate < 1.3 GHz
        sc.marker(inst, "rw-tsc-done")
        sc.finish(inst, cpus, page_size)


def capture_overrun(out_dir, cpus, page_size):
    """A tiny overwriting buffer flooded while nobody reads it: the first
    sub-buffer read carries RB_MISSED_EVENTS and the count of lost events."""
    sc = Scenario(out_dir, "overrun")
    with Instance() as inst:
        inst.set("trace_clock", "local")
        inst.set("buffer_size_kb", "8")
        inst.set("options/overwrite", "1")
        pin(0)
        inst.set("tracing_on", "1")
        fd = os.open(inst.file("trace_marker"), os.O_WRONLY)
        try:
            for i in range(2000):
                os.write(fd, marker_text(i % 1000, 40).encode())
        finally:
            os.close(fd)
        sc.marker(inst, "rw-overrun-last")
        sc.finish(inst, [0], page_size)


def walk_types(page):
    """Record types of one sub-buffer, from the documented layout (a check of
    what a capture holds, not the decoder under test)."""
    commit, = struct.unpack_from("<Q", page, 8)
    size = commit & 0x3fffffff
    data = page[16:]
    off, types = 0, []
    while off + 4 <= size:
        hdr, = struct.unpack_from("<I", data, off)
        type_len, delta = hdr & 31, hdr >> 5
        if 1 <= type_len <= 28:
            length = 4 + 4 * type_len
        elif type_len == 29 and delta == 0:
            types.append(29)
            break
        else:
            length = 8 if type_len >= 30 else 4 + struct.unpack_from(
                "<I", data, off + 4)[0]
        types.append(type_len)
        off += length
    return types


def capture_abs(out_dir, cpus, page_size):
    """Absolute timestamps (type 31): this kernel writes one when an event
    interrupts another between its reservation's two time updates (an
    interrupt hitting a writer). Floods both CPUs with syscall, irq, timer
    and sched events and keeps the few sub-buffers that hold one, with the
    `trace` lines of the same CPU and time range (x86-tsc: exact times)."""
    sc = Scenario(out_dir, "abs")
    keep_per_cpu = 2
    with Instance() as inst:
        inst.set("trace_clock", "x86-tsc")
        inst.set("buffer_size_kb", "1024")
        for system in ("raw_syscalls", "irq", "timer", "sched", "ipi"):
            inst.set("events/%s/enable" % system, "1")
        # Type 31 records are rare: flood in rounds until enough are kept.
        kept_by_cpu = {cpu: [] for cpu in cpus}
        for _ in range(10):
            inst.set("tracing_on", "1")
            children = []
            for cpu in cpus:
                pid = os.fork()
                if pid == 0:
                    pin(cpu)
                    fd = os.open(inst.file("trace_marker"), os.O_WRONLY)
                    end = time.monotonic() + 2
                    while time.monotonic() < end:
                        os.write(fd, b"rw-abs-load")
                        os.getppid()
                    os._exit(0)
                children.append(pid)
            for pid in children:
                os.waitpid(pid, 0)
            inst.set("tracing_on", "0")
            text = read(inst.file("trace"))
            found = {cpu: [] for cpu in cpus}
            for cpu in cpus:
                for page in read_subbufs(inst, cpu, page_size):
                    if 31 in walk_types(page) and len(found[cpu]) < keep_per_cpu:
                        found[cpu].append(page)
            if sum(len(v) for v in found.values()) >= 2:
                kept_by_cpu = found
                break
        kept_lines = []
        for cpu in cpus:
            kept = kept_by_cpu[cpu]
            sc.info["pages.cpu%d" % cpu] = len(kept)
            with open(os.path.join(sc.dir, "cpu%d.bin" % cpu), "wb") as f:
                for page in kept:
                    f.write(page)
            # The text lines of each kept page: as many lines of this CPU as
            # the page holds data records, from the one at the page's time.
            for page in kept:
                first, = struct.unpack_from("<Q", page, 0)
                records = sum(1 for t in walk_types(page) if t <= 28)
                kept_lines.append((cpu, first, records))
        sc.info["page_size"] = page_size
        sc.info["trace_clock"] = "x86-tsc"
        lines = text.splitlines()
        out = [l for l in lines if l.startswith("#")]
        line_re = re.compile(r"\[(\d{3})\]\s+\S+\s+(\d+):")
        for cpu, first, records in kept_lines:
            taken = []
            for line in lines:
                m = line_re.search(line)
                if not m or int(m.group(1)) != cpu:
                    continue
                if taken or int(m.group(2)) == first:
                    taken.append(line)
                if len(taken) == records:
                    break
            out.extend(taken)
        write(os.path.join(sc.dir, "trace.txt"), "\n".join(out) + "\n")
        with open(os.path.join(sc.dir, "info.txt"), "w") as f:
            for key in sorted(sc.info):
                f.write("%s=%s\n" % (key, sc.info[key]))
        print("abs: %s" % sc.info)


# _IO('R', 0x20) from include/uapi/linux/trace_mmap.h.
TRACE_MMAP_IOCTL_GET_READER = 0x5220


class Mapping:
    """per_cpu/cpuN/trace_pipe_raw mapped (Linux 6.10+): meta page, then the
    sub-buffers by id. Python's mmap module refuses files that report size 0,
    so this calls libc's."""

    def __init__(self, path, page_size):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mmap.restype = ctypes.c_void_p
        self.libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   ctypes.c_long)
        self.libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        self.maps = []
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self.meta = self._map(page_size, 0)
            (self.meta_page_size, _, self.subbuf_size,
             self.nr_subbufs) = struct.unpack("<IIII", self._read(
                 self.meta, 0, 16))
            self.data = self._map(self.subbuf_size * self.nr_subbufs,
                                  self.meta_page_size)
        except Exception:
            self.close()
            raise

    def _map(self, length, offset):
        addr = self.libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED,
                              self.fd, offset)
        if addr in (None, ctypes.c_void_p(-1).value):
            err = ctypes.get_errno()
            raise OSError(err, "mmap of trace_pipe_raw: " + os.strerror(err))
        self.maps.append((addr, length))
        return addr

    @staticmethod
    def _read(addr, offset, length):
        return ctypes.string_at(addr + offset, length)

    def reader(self):
        """(lost_events, id, read) of the reader sub-buffer."""
        return struct.unpack("<QII", self._read(self.meta, 16, 16))

    def subbuf(self):
        _, rid, _ = self.reader()
        return self._read(self.data, rid * self.subbuf_size, self.subbuf_size)

    def get_reader(self):
        fcntl.ioctl(self.fd, TRACE_MMAP_IOCTL_GET_READER)

    def close(self):
        for addr, length in self.maps:
            self.libc.munmap(addr, length)
        self.maps = []
        os.close(self.fd)


def capture_mmap(out_dir, page_size):
    """The reader sub-buffer of a mapped ring, as the mmap reader sees it:
    partly consumed before the mapping (meta reader.read > 0, for Skip),
    growing while the writer is still on it, and complete with the writer's
    page-end padding (which read() of trace_pipe_raw trims off)."""
    sc = Scenario(out_dir, "mmap")
    with Instance() as inst:
        inst.set("trace_clock", "x86-tsc")
        inst.set("buffer_size_kb", "16")
        pin(0)
        inst.set("tracing_on", "1")
        for i in range(6):
            sc.marker(inst, marker_text(300 + i, 12 + 20 * i))
        # Exact times of these markers, before anything consumes them.
        write(os.path.join(sc.dir, "trace.txt"), read(inst.file("trace")))
        # Consume the first two with the per-CPU text pipe: each read() of
        # one byte consumes one event.
        for _ in range(2):
            fd = os.open(inst.file("per_cpu/cpu0/trace_pipe"),
                         os.O_RDONLY | os.O_NONBLOCK)
            os.read(fd, 1)
            os.close(fd)
        m = Mapping(inst.file("per_cpu/cpu0/trace_pipe_raw"), page_size)
        try:
            lost, rid, rread = m.reader()
            sc.info["first.reader_read"] = rread
            sc.info["first.reader_id"] = rid
            first = m.subbuf()
            for i in range(4):
                sc.marker(inst, marker_text(310 + i, 30 + 10 * i))
            grown = m.subbuf()
            # Fill the page: the writer pads its end and moves on.
            for i in range(60):
                sc.marker(inst, marker_text(320 + i, 90))
            full = m.subbuf()
            _, rid2, _ = m.reader()
            sc.info["full.reader_id"] = rid2
            m.get_reader()  # Marks the rest of this sub-buffer read.
            sc.info["after_get_reader.reader_read"] = m.reader()[2]
            m.get_reader()  # Swaps in the next one.
            lost, rid3, rread3 = m.reader()
            sc.info["next.reader_id"] = rid3
            sc.info["next.reader_read"] = rread3
            sc.info["next.lost_events"] = lost
            nxt = m.subbuf()
        finally:
            m.close()
        inst.set("tracing_on", "0")
        for name, page in (("first", first), ("grown", grown), ("full", full),
                           ("next", nxt)):
            commit, = struct.unpack_from("<Q", page, 8)
            sc.info[name + ".commit"] = "%#x" % commit
            with open(os.path.join(sc.dir, name + ".bin"), "wb") as f:
                f.write(page)
        sc.info["page_size"] = page_size
        sc.info["trace_clock"] = "x86-tsc"
        with open(os.path.join(sc.dir, "markers.txt"), "w") as f:
            for cpus_mask, text in sc.markers:
                f.write("%d %r\n" % (min(cpus_mask), text))
        with open(os.path.join(sc.dir, "info.txt"), "w") as f:
            for key in sorted(sc.info):
                f.write("%s=%s\n" % (key, sc.info[key]))
        print("mmap: %s" % sc.info)


def copy_formats(out_dir):
    fmt_dir = os.path.join(out_dir, "formats")
    if os.path.isdir(fmt_dir):
        shutil.rmtree(fmt_dir)
    os.makedirs(fmt_dir)
    for name in ("header_page", "header_event"):
        shutil.copyfile(os.path.join(TRACEFS, "events", name),
                        os.path.join(fmt_dir, name))
    for system, event in EVENTS:
        dst = os.path.join(fmt_dir, system, event)
        os.makedirs(dst)
        write(os.path.join(dst, "format"),
              read(os.path.join(TRACEFS, "events", system, event, "format")))


def main():
    out_dir = os.path.realpath(
        sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__))
    if os.geteuid() != 0 or not os.path.exists(os.path.join(TRACEFS, "trace")):
        sys.exit("capture.py: needs root and tracefs at " + TRACEFS)
    remove_stale()
    page_size = os.sysconf("SC_PAGE_SIZE")
    cpus = sorted(os.sched_getaffinity(0))
    copy_formats(out_dir)
    capture_basic(out_dir, cpus, page_size)
    capture_tsc(out_dir, cpus, page_size)
    capture_overrun(out_dir, cpus, page_size)
    capture_abs(out_dir, cpus, page_size)
    capture_mmap(out_dir, page_size)


if __name__ == "__main__":
    main()
