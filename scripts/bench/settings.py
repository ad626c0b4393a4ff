"""The sizes and round counts of a run: the full run, or ``--quick`` (a smoke run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import ENGINES, GIB, KIB, MIB


@dataclass
class Settings:
    quick: bool
    reps: int                           # dd rounds
    fio_reps: int                       # fio rounds (fio needs ~0.2 s per job to start and reap)
    dd_bs: list[int]
    dd_bytes: dict[int, int]            # bytes per sample, per block size
    fio_bs: list[int]
    fio_engines: list[str]
    fio_mem_size: dict[int, int]        # bytes of the mem device per write/read job, per bs
    fio_file_size: int                  # regular file, the same for all (the example's writes are
                                        # quadratic: 32M would take it minutes)
    stream_bytes: int
    memdev_size: int
    uiomove_rounds: int
    hook_rules: int = 10                # non-matching rules of the hook's "rules" column
    dur_bytes: dict[int, int] = field(default_factory=dict)  # sequential writes, per bs
    dur_rewrite_bytes: int = 0          # rewrite in place, throughput
    dur_mem_bytes: int = 0              # append, then rewrite in place: daemon RSS
    xattr_bytes: dict[str, int] = field(default_factory=dict)  # 4 KiB writes, per mode
    sweep_reps: int = 3                 # rounds of the sweep section (each sweeps a program)
    sweep_reads: int = 30               # reads of the swept program (cases of short:1)
    sweep_wait_reads: int = 10          # reads of the program that mostly waits (--jobs)
    crash_records: int = 10             # fsynced appends of the crash-swept program
    backed_file_size: int = 64 * MIB    # the backed section's fio files
    backed_reps: int = 7                # its rounds (the columns interleaved)
    backed_rss_bytes: int = 4 * GIB     # written through a backed mount, for its peak RSS

    @classmethod
    def make(cls, quick: bool, reps: int | None) -> Settings:
        """The settings of a full or a quick run; ``reps`` (if given) sets dd's and fio's rounds."""
        if quick:
            return cls(quick=True, reps=reps or 2, fio_reps=reps or 1,
                       dd_bs=[4 * KIB, 128 * KIB, MIB],
                       dd_bytes={4 * KIB: 2 * MIB, 128 * KIB: 16 * MIB, MIB: 32 * MIB},
                       fio_bs=[4 * KIB, MIB], fio_engines=["psync", "vsync"],
                       fio_mem_size={4 * KIB: 2 * MIB, MIB: 8 * MIB},
                       fio_file_size=2 * MIB,
                       stream_bytes=256 * MIB, memdev_size=128 * MIB, uiomove_rounds=3,
                       dur_bytes={MIB: 16 * MIB, 128 * KIB: 16 * MIB, 4 * KIB: 2 * MIB},
                       dur_rewrite_bytes=16 * MIB, dur_mem_bytes=16 * MIB,
                       xattr_bytes={"write-through": 2 * MIB, "writeback": 8 * MIB},
                       sweep_reps=1, sweep_reads=10, sweep_wait_reads=6, crash_records=3,
                       backed_file_size=4 * MIB, backed_reps=reps or 1,
                       backed_rss_bytes=256 * MIB)
        return cls(quick=False, reps=reps or 5, fio_reps=reps or 3,
                   dd_bs=[4 * KIB, 128 * KIB, MIB],
                   dd_bytes={4 * KIB: 32 * MIB, 128 * KIB: 256 * MIB, MIB: 512 * MIB},
                   fio_bs=[4 * KIB, 128 * KIB, MIB], fio_engines=ENGINES,
                   fio_mem_size={4 * KIB: 16 * MIB, 128 * KIB: 64 * MIB, MIB: 64 * MIB},
                   fio_file_size=8 * MIB,
                   stream_bytes=4 * GIB, memdev_size=GIB, uiomove_rounds=25,
                   dur_bytes={MIB: 128 * MIB, 128 * KIB: 128 * MIB, 4 * KIB: 16 * MIB},
                   dur_rewrite_bytes=128 * MIB, dur_mem_bytes=128 * MIB,
                   xattr_bytes={"write-through": 16 * MIB, "writeback": 64 * MIB},
                   backed_reps=max(reps or 7, 5))

    def as_json(self) -> dict[str, Any]:
        """What the JSON's "settings" has always held (keys as strings)."""
        return {"quick": self.quick, "reps": self.reps, "fio_reps": self.fio_reps,
                "dd_bytes": {str(k): v for k, v in self.dd_bytes.items()},
                "fio_engines": self.fio_engines, "fio_bs": self.fio_bs,
                "fio_mem_size": {str(k): v for k, v in self.fio_mem_size.items()},
                "fio_file_size": self.fio_file_size,
                "stream_bytes": self.stream_bytes, "memdev_size": self.memdev_size,
                "sweep_reps": self.sweep_reps, "sweep_reads": self.sweep_reads,
                "sweep_wait_reads": self.sweep_wait_reads,
                "crash_records": self.crash_records,
                "backed_file_size": self.backed_file_size, "backed_reps": self.backed_reps,
                "backed_rss_bytes": self.backed_rss_bytes}
