"""Where zsar computes: device and precision names, and the defaults that follow from the device.

One module for every command, so a device name means the same in ``zsar extract``,
``zsar train-head`` and the text encoders: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (a GPU
if torch sees one). Asking for a GPU where there is none is an error that says so, never a
silent switch to the CPU.

Per-device defaults of extraction (each overridable by its flag):

- decoding workers (``--workers``): with a GPU backbone, every core this process may use but
  one (the one that feeds the GPU); the GPU encodes far faster than one core decodes (CLIP
  ViT-B/16 in fp16 takes hundreds of 8-frame clips a second, one core decodes tens), so
  decoding is what limits. With a CPU backbone the backbone needs the cores: no worker on
  two cores, one from three on (``bench/extract.py``);
- torch threads (``--threads``): with a CPU backbone the cores the workers leave; with a
  GPU backbone one (the process only moves batches);
- clips per backbone batch (``--batch-size``): 8 on a CPU, 64 on a GPU.

``available_memory`` is the memory a head's training state must fit in (``zsar.heads.options``).

The module imports torch only inside the functions that use it, so the device and precision
names (``DEVICES``, ``PRECISIONS``) cost no torch import (``zsar --help`` lists them).

"Cores" are those this process may run on (``sched_getaffinity``: what SLURM's
``--cpus-per-task`` or ``taskset`` grants), shared evenly among the ranks torchrun starts on
one machine (``LOCAL_WORLD_SIZE``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
from typing import TYPE_CHECKING, Iterator

from zsar.errors import ZsarError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda", "cuda:N", "auto")
PRECISIONS: dict[str, str] = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}  # name -> torch dtype
BATCH_SIZES = {"cpu": 8, "cuda": 64}  # clips per backbone call; 8 clips of 8 frames ran fastest on 2 CPU cores
_CUDA_INDEX = re.compile(r"cuda:(\d+)")


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (cuda if torch sees a GPU) as a ``torch.device``.

    A GPU name without a GPU (or an index past the last GPU) is a ``ZsarError``: no fallback.
    """
    import torch

    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        log.info("--device auto: using %s", device)
        return device
    if name == "cpu":
        return torch.device("cpu")
    index = _CUDA_INDEX.fullmatch(name)
    if name != "cuda" and index is None:
        raise ZsarError(f"--device {name!r}: choose one of {', '.join(DEVICES)}")
    if not torch.cuda.is_available():
        raise ZsarError(f"--device {name}: no CUDA device here (torch sees no GPU); use --device cpu or auto, "
                        "or install a CUDA build of torch")
    count = torch.cuda.device_count()
    if index is not None and int(index.group(1)) >= count:
        raise ZsarError(f"--device {name}: torch sees {count} GPU(s), cuda:0 to cuda:{count - 1}")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The autocast dtype of ``precision`` (fp32, fp16, bf16) on ``device``; half precision only on a GPU."""
    import torch

    if precision not in PRECISIONS:
        raise ZsarError(f"unknown precision {precision!r}; valid precisions: {', '.join(PRECISIONS)}")
    dtype = getattr(torch, PRECISIONS[precision])
    if dtype != torch.float32 and device.type != "cuda":
        raise ZsarError(f"--precision {precision} needs a GPU (device is {device}); "
                        "use --precision fp32 or --device cuda")
    return dtype


def rank_device(name: str) -> str:
    """Under torchrun, ``cuda`` means this process's own GPU, ``cuda:<LOCAL_RANK>``; other names are kept."""
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return name


def process_cores() -> int:
    """The cores this process may use: its CPU affinity, divided among torchrun's ranks on this machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, cores // max(1, ranks))


def available_memory() -> int:
    """Bytes of memory this machine has available now (``MemAvailable``; all of it where that is not known)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_workers(device_type: str = "cpu") -> int:
    """Decoding processes when ``--workers`` is not given (see the module docstring).

    With a CPU backbone: decoding a clip costs a tenth of encoding it with efficientnet-lite0,
    so on a quiet 2-core machine decoding in this process with both cores for the backbone
    ran 2.3x (224 px) and 2.1x (112 px) faster end to end than one worker beside a
    one-thread backbone (bench/extract.py).
    """
    cores = process_cores()
    if device_type != "cpu":
        return cores - 1
    return 0 if cores <= 2 else 1


def default_batch_size(device_type: str = "cpu") -> int:
    """Clips per backbone call when ``--batch-size`` is not given."""
    return BATCH_SIZES["cpu" if device_type == "cpu" else "cuda"]


def backbone_threads(threads: int | None, workers: int, device_type: str) -> int | None:
    """Torch threads of the extracting process: ``threads`` if given, else what suits the device.

    A CPU backbone gets the cores the workers leave: OpenMP threads that share their cores
    with decoding processes wait on each other at every barrier (on 2 cores, 2 threads + 1
    worker ran efficientnet-lite0 at 2.0 clips/s, 1 thread + 1 worker at 3.5;
    bench/extract.py). With a GPU backbone the process only moves batches, and one thread
    does that best: more spin against the decoding workers. None: leave torch's setting.
    """
    if threads is not None:
        return threads
    if device_type != "cpu":
        return 1
    if workers == 0:
        return None
    return max(1, process_cores() - workers)


@contextlib.contextmanager
def torch_threads(threads: int | None, flag: str = "--threads") -> Iterator[None]:
    """Set torch's intra-op threads for a block (None: leave them) and restore them after."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ZsarError(f"{flag} {threads}: must be at least 1")
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# glibc's mallopt parameters, and how much freed memory to keep.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory in the process, for CPU inference; False where not glibc.

    glibc returns large freed blocks (a backbone's activations: hundreds of MB per batch) to
    the kernel, and the next batch page-faults them back in, zero-filled. On the 2-core test
    machine that kernel work was more than half of efficientnet-lite0's time (2.7 clips/s
    with 4.4 s of system time per 32 clips, against 4.4 clips/s and none with these
    settings, batch 1-8 clips of 8 frames at 224 px). Raising the trim and mmap thresholds
    keeps the memory mapped for reuse; the resident size then stays at its peak, which an
    extraction process reaches anyway.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    done = all(mallopt(param, ctypes.c_int(value)) == 1 for param, value in (
        (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, KEEP_BYTES), (M_MMAP_THRESHOLD, KEEP_BYTES)))
    log.debug("malloc keeps freed memory: %s", done)
    return done
