import decord
from typer.testing import CliRunner

from zsar.cli import app
from zsar.cli.options import NAMES

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("synth", "demo"):
        assert name in result.output


def test_every_command_help_lists_its_choices_and_no_placeholder():
    assert NAMES["devices"]() == ["cpu", "cuda", "cuda:N", "auto"] and NAMES["formats"]() == ["avi", "mp4"]
    assert NAMES["samplings"]() == ["uniform", "dense"] and "tiny-random" in NAMES["text_encoders"]()
    assert all(NAMES[key]() for key in NAMES)
    for command in (["demo"], ["synth"], ["extract"], ["cache", "ls"], ["cache", "info"], ["cache", "verify"],
                    ["train-head"], ["heads"], ["sweep"], ["metrics"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
        assert result.exit_code == 0 and not [key for key in NAMES if f"{{{key}}}" in result.output], command


def test_synth_writes_the_requested_clips(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["synth", str(out), "--classes", "3", "--per-class", "2",
                                 "--frames", "10", "--size", "64x40"])
    assert result.exit_code == 0, result.output
    assert "wrote 6 clips" in result.output
    clips = sorted((out / "videos").glob("*/*.avi"))
    assert len(clips) == 6
    reader = decord.VideoReader(str(clips[0]))
    assert len(reader) == 10 and reader[0].shape == (40, 64, 3)
    assert len(list((out / "splits").glob("*_test_split*.txt"))) == 9


def test_user_mistake_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["synth", str(tmp_path / "s"), "--size", "big"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --size 'big': write it as WIDTHxHEIGHT, e.g. 112x112"
