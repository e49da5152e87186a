"""What `clanka llm serve` serves: the default model file, any GGUF by path, and one-line
refusals for a file that is missing or not a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from strategies.strategist.serve.llama import answer_grammar
from strategies.strategist.serve.models import default_model_path, served_model
from tests.test_cli import clanka


def test_the_default_and_a_named_file_are_described_as_ollama_lists_them() -> None:
    pytest.importorskip("xllamacpp", reason="the `llm` extra is not installed")
    d = served_model(None, None)
    assert (d.name, d.parameter_size, d.quantization) == ("smollm2:135m", "135M", "Q4_1")
    assert d.path == default_model_path() and d.size > 50_000_000
    other = served_model(default_model_path(), None)  # any GGUF the user points at
    assert other.name == "smollm2-135m-instruct-q4_1:latest"
    assert other.matches("smollm2-135m-instruct-q4_1") and not other.matches("smollm2:135m")
    assert served_model(default_model_path(), "mine").matches("mine:latest")


def test_missing_and_non_model_files_are_one_line(tmp_path: Path) -> None:
    r = clanka("llm", "serve", "--model", str(tmp_path / "nope.gguf"), "--port", "0")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    f = tmp_path / "notes.gguf"
    f.write_text("hello")
    r = clanka("llm", "serve", "--model", str(f), "--port", "0")
    assert r.returncode == 2 and "is not a GGUF model file" in r.stderr
    r = clanka("llm", "serve", "--port", "70000")
    assert r.returncode == 2 and "70000" in r.stderr


def test_an_answer_schema_becomes_a_grammar_without_free_whitespace() -> None:
    g = answer_grammar({"type": "object"})
    assert g is not None and g.startswith("%llguidance {}\nstart: %json ")
    assert '"whitespace_flexible": false' in g
    assert answer_grammar(None) is None and answer_grammar("") is None
    with pytest.raises(ValueError, match="format must be"):
        answer_grammar(42)
