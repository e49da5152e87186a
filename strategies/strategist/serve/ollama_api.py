"""Ollama's HTTP API over a LlamaEngine: the routes the `ollama` client and tools use.

Routes: `POST /api/chat` and `POST /api/generate` (streamed as NDJSON, or one JSON
object with `"stream": false`), `GET /api/tags`, `POST /api/show`, `GET /api/ps`,
`GET /api/version`. A request for a model this server does not serve is a 404 with
`{"error": "model 'x' not found"}`, as Ollama answers. Field names and meanings follow
Ollama's API documentation (docs/api.md): durations in nanoseconds, `done_reason`
"stop" or "length", `format` either "json" or a JSON schema.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strategies.strategist.serve.llama import LlamaEngine, LlamaError, answer_grammar

API_VERSION = "0.12.0"
"""The Ollama API level these routes follow (reported by /api/version)."""


class Message(BaseModel):
    """One chat message (images and tool calls are not supported by this server)."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(max_length=200_000)


class Options(BaseModel):
    """The model options this server honours; others are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    temperature: float | None = Field(default=None, ge=0, le=5)
    seed: int | None = None
    num_predict: int | None = Field(default=None, ge=-2)
    top_k: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    repeat_penalty: float | None = Field(default=None, ge=0)
    stop: list[str] | None = None


class ChatRequest(BaseModel):
    """`POST /api/chat`."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[Message] = Field(default_factory=list)
    format: Any = None
    options: Options = Field(default_factory=Options)
    stream: bool = True


class GenerateRequest(BaseModel):
    """`POST /api/generate`."""

    model_config = ConfigDict(extra="ignore")

    model: str
    prompt: str = Field(default="", max_length=200_000)
    system: str | None = None
    raw: bool = False
    format: Any = None
    options: Options = Field(default_factory=Options)
    stream: bool = True


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=status)


def make_app(engine: LlamaEngine) -> FastAPI:
    """The FastAPI application serving `engine`'s model under its name."""
    app = FastAPI(title="clanka llm serve", docs_url=None, redoc_url=None, openapi_url=None)
    model = engine.model
    loaded_at = _now_iso()

    def details() -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": model.parameter_size,
                "quantization_level": model.quantization}  # fmt: skip

    def listing() -> dict[str, Any]:
        return {"name": model.name, "model": model.name, "modified_at": loaded_at,
                "size": model.size, "digest": model.digest, "details": details()}  # fmt: skip

    def missing(name: str) -> JSONResponse:
        return _error(404, f"model '{name}' not found")

    async def parse(request: Request, cls: type[BaseModel]) -> BaseModel | JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid JSON body")
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return _error(400, f"invalid request: {where}: {first['msg']}")

    @app.get("/")
    def root() -> Any:
        return StreamingResponse(iter([b"Ollama is running"]), media_type="text/plain")

    @app.get("/api/version")
    def version() -> dict[str, str]:
        return {"version": API_VERSION}

    @app.get("/api/tags")
    def tags() -> dict[str, Any]:
        return {"models": [listing()]}

    @app.get("/api/ps")
    def ps() -> dict[str, Any]:
        return {"models": [{**listing(), "expires_at": "2999-12-31T23:59:59Z",
                            "size_vram": 0, "context_length": engine.n_ctx}]}  # fmt: skip

    @app.post("/api/show")
    async def show(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid JSON body")
        name = str(body.get("model") or body.get("name") or "") if isinstance(body, dict) else ""
        if not model.matches(name):
            return missing(name)
        return {"license": "", "modelfile": f"FROM {model.path}\n", "parameters": "",
                "template": "{{ .Prompt }}", "details": details(), "modified_at": loaded_at,
                "model_info": {"general.architecture": "llama",
                               "general.file_type": model.quantization},
                "capabilities": ["completion"]}  # fmt: skip

    async def accept(
        request: Request, cls: type[ChatRequest | GenerateRequest]
    ) -> tuple[Any, dict[str, Any]] | JSONResponse:
        """The parsed request and its llama.cpp fields, or the error response."""
        req = await parse(request, cls)
        if isinstance(req, JSONResponse):
            return req
        assert isinstance(req, ChatRequest | GenerateRequest)
        if not model.matches(req.model):
            return missing(req.model)
        try:
            return req, _llama_request(req.options, req.format, engine.n_ctx)
        except ValueError as exc:
            return _error(400, str(exc))

    @app.post("/api/chat")
    async def chat(request: Request) -> Any:
        got = await accept(request, ChatRequest)
        if isinstance(got, JSONResponse):
            return got
        req, llama = got
        llama["messages"] = [{"role": m.role, "content": m.content} for m in req.messages]
        return _respond(engine, llama, req.stream, model.name, chat=True)

    @app.post("/api/generate")
    async def generate(request: Request) -> Any:
        got = await accept(request, GenerateRequest)
        if isinstance(got, JSONResponse):
            return got
        req, llama = got
        if req.raw:
            llama["prompt"] = req.prompt
        else:
            msgs = [{"role": "system", "content": req.system}] if req.system else []
            llama["messages"] = [*msgs, {"role": "user", "content": req.prompt}]
        return _respond(engine, llama, req.stream, model.name, chat=not req.raw,
                        field="response")  # fmt: skip

    return app


def _llama_request(opts: Options, fmt: Any, n_ctx: int) -> dict[str, Any]:
    """Ollama options -> llama.cpp request fields (Ollama's defaults where unset)."""
    n = opts.num_predict
    out: dict[str, Any] = {
        "max_tokens": n_ctx if n is None or n < 0 else n,
        "temperature": 0.8 if opts.temperature is None else opts.temperature,
    }
    for key in ("seed", "top_k", "top_p", "repeat_penalty", "stop"):
        v = getattr(opts, key)
        if v is not None:
            out[key] = v
    grammar = answer_grammar(fmt)
    if grammar is not None:
        out["grammar"] = grammar
    return out


def _stats(result: dict[str, Any], total_ns: int) -> dict[str, Any]:
    usage = result.get("usage") or {}
    timings = result.get("timings") or {}
    return {
        "total_duration": total_ns,
        "load_duration": 0,
        "prompt_eval_count": int(usage.get("prompt_tokens", timings.get("prompt_n", 0))),
        "prompt_eval_duration": round(float(timings.get("prompt_ms", 0.0)) * 1e6),
        "eval_count": int(usage.get("completion_tokens", timings.get("predicted_n", 0))),
        "eval_duration": round(float(timings.get("predicted_ms", 0.0)) * 1e6),
    }


def _done_reason(finish: Any) -> str:
    return "length" if finish == "length" else "stop"


def _respond(
    engine: LlamaEngine,
    llama: dict[str, Any],
    stream: bool,
    name: str,
    *,
    chat: bool,
    field: str = "message",
) -> Any:
    def piece(text: str) -> dict[str, Any]:
        if field == "message":
            return {"message": {"role": "assistant", "content": text}}
        return {"response": text}

    t0 = time.perf_counter_ns()
    if not stream:
        try:
            result = engine.chat(llama) if chat else engine.complete(llama)
        except LlamaError as exc:
            return _error(500, str(exc))
        choice = result["choices"][0]
        text = choice["message"]["content"] if chat else choice.get("text", "")
        return {"model": name, "created_at": _now_iso(), **piece(text or ""), "done": True,
                "done_reason": _done_reason(choice.get("finish_reason")),
                **_stats(result, time.perf_counter_ns() - t0)}  # fmt: skip

    def lines() -> Iterator[bytes]:
        chunks = engine.chat_stream(llama) if chat else engine.complete_stream(llama)
        finish: Any = None
        last: dict[str, Any] = {}
        try:
            for chunk in chunks:
                last = chunk
                choice = (chunk.get("choices") or [{}])[0]
                text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                finish = choice.get("finish_reason") or finish
                if text:
                    yield _line({"model": name, "created_at": _now_iso(), **piece(text),
                                 "done": False})  # fmt: skip
        except LlamaError as exc:
            yield _line({"error": str(exc)})
            return
        yield _line({"model": name, "created_at": _now_iso(), **piece(""), "done": True,
                     "done_reason": _done_reason(finish),
                     **_stats(last, time.perf_counter_ns() - t0)})  # fmt: skip

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()
