"""Long steps say that they move when their output goes to a file: one log line per finished chunk."""

from __future__ import annotations

import logging

from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.sampling import SamplingConfig
from zsar.progress import progress, step_done
from zsar.synth import SynthConfig, generate_dataset


def test_a_bar_off_the_terminal_logs_one_line_per_step_instead(caplog):
    caplog.set_level(logging.INFO, logger="zsar.progress")
    with progress(desc="work", total=2) as bar:  # pytest's stderr is not a terminal: the bar is off
        bar.update(1)
        step_done(bar, "first half")
    assert bar.disable and [r.getMessage() for r in caplog.records] == ["first half"]


def test_extract_logs_each_chunk_when_stderr_is_not_a_terminal(tmp_path, caplog):
    data = generate_dataset(SynthConfig(classes=2, per_class=3, frames=8, width=32, height=32), tmp_path / "data")
    caplog.set_level(logging.INFO, logger="zsar.progress")
    extract(ExtractConfig(dataset="synthetic", root=data, backbone="tiny-random", text_encoder="none",
                          sampling=SamplingConfig(frames=2), resolution=32, cache=tmp_path / "cache", workers=0,
                          videos_per_shard=2))
    lines = [r.getMessage() for r in caplog.records if r.name == "zsar.progress"]
    assert [line.split(",")[0] for line in lines] == [f"extract rank 0: {n}/6 videos" for n in (2, 4, 6)]
