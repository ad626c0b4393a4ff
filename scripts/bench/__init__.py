"""iofs side by side with a bare pyfuse3 filesystem and a kernel tmpfs (``scripts/bench/run``).

Columns:

* ``iofs``: ``iofs mount`` of the default tree (/zero, /mem0, regular files in /tmp), the
  daemon importing the iofs of this checkout.
* ``iofs-wb``: the same tree with ``writeback_cache = true`` (regular-file rows only): the
  kernel gathers small writes, at the price of ENOSPC surfacing at fsync/close.
* ``iofs@base``, ``iofs-wb@base`` (``--baseline DIR``): the same mounts, the daemon importing
  the iofs of another checkout DIR, in the same rounds; every section where iofs appears gets
  the ratio ``new / base``, and a table of them all closes the report.
* ``bare``: ``scripts/bench/bare_fs.py``, direct_io ``zero`` and ``mem`` with the same data
  work and no uio or drivers: the price of pyfuse3 itself, the baseline iofs must match.
* ``tmpfs``: a kernel tmpfs (mounted when root, else a directory in /dev/shm): the physical
  limit. Its ``zero`` is a sparse file and its ``mem`` a filled 64 MiB file.
* ``example``: pyfuse3's examples/tmpfs.py (regular files only), when found on the machine or
  fetched into ``.cache/bench`` (``pip download`` of the pyfuse3 sdist); otherwise left out.

Tests, each alternating the filesystems (A B C A B C ..., order rotated per round); the table
shows medians, and ratios are medians of the per-round ratios:

* dd, bs 4k/128k/1M, reads and writes of zero and mem (writes with conv=notrunc); throughput
  from dd's own timing, so process start-up is not counted.
* fio, ioengines sync/psync/vsync/pvsync2 at iodepth 1, bs 4k/128k/1m, ``verify=crc32c``. On
  the mem device (direct_io) one job writes and then reads back and verifies every block; on a
  regular file (iofs /tmp, tmpfs, the example: all the same size) a write job ending in fsync,
  then a read job that first drops the cached pages. fio needs ~0.2 s to start and reap each
  job, so there is one fio process per filesystem, target and round, its jobs stonewalled; its
  times have millisecond resolution (the fastest tmpfs rows are coarse).
* memory: the daemon's peak RSS (VmHWM) while streaming from /zero (4 GiB) and after filling a
  1 GiB mem device, for iofs and bare, each on a fresh mount.
* ``micro_uiomove.py``, the core's microbenchmark.
* the fault and trace hook: dd of zero and mem0 at 4k and 1M on bare, iofs as mounted by
  default (trace recording on, no rules), iofs with ``trace = false``, iofs with N rules added
  through ``.iofs/faults`` that match nothing (``path=nomatch-K``), and the default mount with
  a trace reader attached (``cat MNT/.iofs/trace > /dev/null``, started and caught up before
  each dd, stopped after). Per request: a non-matching rule's cost (rules minus default, over
  N), the trace recording's (default minus trace = false) and the reader's.
* durability: dd writes of a new regular file (1M, 128k, 4k, conv=fsync) and a rewrite in
  place (1M, no fsync, after an fsync) with ``durability`` off and on; and on fresh daemons,
  their RSS growth appending a file and then rewriting it in place (extra memory vs the bytes
  rewritten).
* xattr: dd 4k writes of a new regular file with ``xattr`` true (the default: the kernel asks
  getxattr("security.capability") before each write(2)) and false, write-through and with
  ``writeback_cache``; the getxattr requests per write(2), counted in the trace.
* sweep: ``iofs sweep`` of a C program that makes 30 reads (10 with --quick), with
  ``--actions short:1``: cases per second of the new sweep (one mount per worker, reset between
  runs), of ``--fresh-mounts`` (a mount per run, the old way) and, with ``--baseline``, of the
  baseline checkout's own sweep, over the whole command; the new one's per-run overhead beyond
  the program's own time, in parts; and ``--jobs 2`` against ``--jobs 1`` on a program that
  mostly waits.
* backed: a host directory served by iofs (``iofs mount --source``; also with ``xattr =
  false`` and with ``writeback_cache``) beside a bare pyfuse3 passthrough
  (``bare_passthrough.py``) and the backing tmpfs itself: fio psync sequential write and read
  at 4k, 128k, 1m and random read at 4k, 64 MiB files, interleaved rounds, pinned; and the
  daemon's peak RSS while 4 GiB are written through a backed mount.

Output: markdown on stdout, ``--json FILE`` the raw numbers, ``--plot FILE.png`` a bar chart
(needs matplotlib: ``pip install -e '.[plot]'``). ``--quick`` shrinks everything to a smoke run
of well under a minute; its numbers are not the targets' numbers. Whatever is mounted is
unmounted again, also on errors and Ctrl-C.

Modules: ``common`` (constants, units), ``settings``, ``mounts`` (iofs through the one
``iofs.testing.mount.Mount``) and ``others`` (bare, example, tmpfs), ``measure`` (dd, fio,
/proc, CPU affinity), ``stats``, ``control`` (the control files and the trace), ``runner``
(rounds, pinning, the mounts of a run), one module per section (``dd``, ``fio``, ``hook``,
``durability``, ``xattr``, ``sweep``, ``backed``, ``memory``, ``uiomove``), ``targets``,
``baseline`` (the new/base
ratios), ``report`` and ``report_sections`` (markdown), ``plot`` and ``cli``.
"""
