"""evaluate's outputs are all checked before the evaluation runs: a bad one is a clear
error, and neither the report files nor the inputs are touched."""

import shutil
from pathlib import Path

import pytest
from conftest import DATA_DIR
from helpers import refused, snapshot, train_bow_textcat
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.errors import DataError
from spacy_kd.evaluation import evaluate
from spacy_kd.evaluation.output import write_report

TRAIN, TEST = DATA_DIR / "20ng_train.jsonl", DATA_DIR / "20ng_test.jsonl"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("evaluate_outputs") / "model"
    return train_bow_textcat(create_textcat_corpus_reader(TRAIN), out, epochs=2)


def test_a_plot_that_is_not_an_image_fails_before_the_report_is_written(
    pipeline, tmp_path
):
    out, md, plot = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "report.txt"
    result = CliRunner().invoke(
        app,
        ["evaluate", str(pipeline), "--data", str(TEST), "--n-speed-docs", "5",
         "--output", str(out), "--markdown", str(md), "--plot", str(plot)],
    )  # fmt: skip
    refused(result, plot, "a plot is written as .png, .svg, .pdf")
    assert "Scoring" not in result.output  # refused before the evaluation ran
    assert snapshot(tmp_path) == {}


def test_write_report_checks_every_path_before_writing(pipeline, tmp_path):
    report = evaluate([pipeline], TEST, measure_speed=False)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    with pytest.raises(DataError, match=r"report.txt: a plot is written as"):
        write_report(
            report, json_path=out, markdown_path=md, plot_path=tmp_path / "report.txt"
        )
    with pytest.raises(DataError, match="is named by two outputs"):
        write_report(report, json_path=out, markdown_path=out)
    assert snapshot(tmp_path) == {}


def test_an_output_that_is_the_test_data_is_refused(pipeline, tmp_path):
    data = tmp_path / "test.jsonl"
    shutil.copy(TEST, data)
    result = CliRunner().invoke(
        app,
        ["evaluate", str(pipeline), "--data", str(data), "--no-speed",
         "--output", str(data)],
    )  # fmt: skip
    refused(result, data, "is an input")
    assert data.read_bytes() == TEST.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["test.jsonl"]


def test_an_output_that_is_a_folder_is_refused(pipeline, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    result = CliRunner().invoke(
        app,
        ["evaluate", str(pipeline), "--data", str(TEST), "--no-speed",
         "--markdown", str(folder)],
    )  # fmt: skip
    refused(result, folder, "is a folder, expected a file")
    assert snapshot(tmp_path) == {}
