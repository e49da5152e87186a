"""The live model client against a stand-in speaking Ollama's wire protocol: every
failure becomes a named status (never an exception), transient ones are retried."""

from __future__ import annotations

import socket

from engine.conditions import ConditionSet
from engine.params import make_params
from strategies.strategist.model import LiveModel, redact_host
from strategies.strategist.prompt import Prompt
from strategies.strategist.settings import StrategistSettings
from tests.strategist.ollama_standin import Answer, Drop, Hang, Status, proposal, standin


def _prompt() -> Prompt:
    req = {"model": "m", "messages": [{"role": "user", "content": "DATA: {}"}],
           "format": {"type": "object"}, "options": {"temperature": 0, "seed": 1,
                                                      "num_predict": 64}}  # fmt: skip
    return Prompt(0, req, "{}", "0" * 64, ConditionSet.parse("ret_5m > 0").compile(),
                  make_params({}))  # fmt: skip


def _model(host: str, **kw: float) -> LiveModel:
    return LiveModel(StrategistSettings(host=host, model="m", backoff_s=0.01, **kw))  # type: ignore[arg-type]


def test_an_answer_carries_its_text_tokens_and_the_request_is_ollamas() -> None:
    good = proposal([("ret_5m", ">=", 0.1)])
    with standin(Answer(good, prompt_eval_count=321, eval_count=17)) as s:
        r = _model(s.host)(_prompt())
    assert (r.status, r.raw, r.done_reason, r.prompt_tokens, r.answer_tokens, r.attempts) == (
        "answered",
        good,
        "stop",
        321,
        17,
        1,
    )
    (req,) = s.requests
    assert req["model"] == "m" and req["stream"] is False
    assert req["format"] == {"type": "object"}
    assert req["options"] == {"temperature": 0, "seed": 1, "num_predict": 64}


def test_transient_errors_are_retried_then_answered() -> None:
    good = proposal([("ret_5m", ">=", 0.1)])
    with standin(Status(503, "loading"), Drop(), Answer(good)) as s:
        r = _model(s.host, attempts=3)(_prompt())
    assert (r.status, r.attempts, len(s.requests)) == ("answered", 3, 3)


def test_final_failures_are_named_and_not_retried_needlessly() -> None:
    with standin(Status(404, "model 'm' not found")) as s:
        r = _model(s.host, attempts=3)(_prompt())
    assert (r.status, r.attempts) == ("model_missing", 1)
    assert r.reason == "HTTP 404: model 'm' not found"
    with standin(Status(400, "bad format")) as s:
        r = _model(s.host, attempts=3)(_prompt())
    assert (r.status, r.attempts) == ("http_error", 1)
    with standin(Status(500, "boom")) as s:
        r = _model(s.host, attempts=2)(_prompt())
    assert (r.status, r.attempts, len(s.requests)) == ("http_error", 2, 2)


def test_a_hanging_server_is_a_timeout_after_each_attempt() -> None:
    with standin(Hang()) as s:
        r = _model(s.host, attempts=2, timeout_s=0.3)(_prompt())
    assert (r.status, r.attempts) == ("timeout", 2)
    assert r.reason == "no answer within 0.3 s"


def test_nothing_listening_is_unreachable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # the port is free and nobody listens
    r = _model(f"http://127.0.0.1:{port}", attempts=2)(_prompt())
    assert (r.status, r.attempts) == ("unreachable", 2)
    assert r.reason == f"cannot reach http://127.0.0.1:{port}: ConnectionError"


def test_hosts_are_recorded_without_credentials() -> None:
    assert redact_host("https://user:hunter2@llm.example:8443/x?key=abc&t=1") == (
        "https://***@llm.example:8443/x?key=***&t=***"
    )
    assert redact_host("127.0.0.1:11434") == "http://127.0.0.1:11434"
