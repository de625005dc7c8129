import io

from click.testing import CliRunner

from policykb import progress
from policykb.cli.main import cli


def test_lines_say_how_far_a_long_job_is_every_so_often(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(progress, "EVERY", 0.0)
    lines = progress.Lines(11653, "embedding", "passage", out)
    lines.update(2560)
    lines.update(9093)  # (done: the report that follows says the rest)
    assert out.getvalue() == "embedding: 2,560 of 11,653 passages (21 %)\n"


def test_lines_are_quiet_between_two_intervals(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(progress, "EVERY", 3600.0)
    lines = progress.Lines(10, "reading", "file", out)
    for _ in range(9):
        lines.update()
    assert out.getvalue() == ""


def test_an_ingest_whose_output_is_not_a_terminal_reports_progress_in_lines(monkeypatch, tmp_path, corpus):
    monkeypatch.setattr(progress, "EVERY", 0.0)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "kb"), "--model", "hashing", "ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "reading: 1 of " in result.output and " files (" in result.output
