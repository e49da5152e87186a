"""The LLM strategist on the embedded model: how long a call takes, cold and warm.

Usage: `python -m benchmarks.bench_strategist [--runs 5] [--cold-runs 3]`.

The prompt is the strategist's real prompt (momentum_breakout's settings) at 17:15 UTC
of the shared pump.fun day (`../shared/data/pumpfun_curve_snapshots_2025-06-06`), or of
a small synthetic market if the shared data is absent. Figures:
- cold: a fresh `clanka llm serve` process, from spawn to its ready line (model load),
  then its first strategist call; `--cold-runs` times;
- warm: `--runs` strategist calls through the `ollama` client and the HTTP server,
  alternated with the same request made to llama.cpp in-process (the yardstick: what
  the server and the client add is the ratio between the two);
- tokens/s of prompt reading and of answer writing, from llama.cpp's own timings.
Medians and spreads go to benchmarks/results/strategist.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS
from strategies.strategist.serve.spawn import spawn_server, stop_server

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "pumpfun_curve_snapshots_2025-06-06.parquet"
T = 1_749_230_100 * 1_000_000_000  # 2025-06-06T17:15:00Z


def _stats(xs: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


def _spawn() -> tuple[subprocess.Popen[str], str, float]:
    t0 = time.perf_counter()
    child, url = spawn_server(cwd=REPO)
    return child, url, time.perf_counter() - t0


def _prompt(store_dir: Path) -> Any:
    from data.importers import import_file
    from data.store import open_store
    from replay.core.runner import mint_names, run_replay
    from strategies.config import load_strategy
    from strategies.strategist.calls import Strategist
    from strategies.strategist.model import RecordedModel

    st = open_store(store_dir, create=True)
    if SHARED.exists():
        import_file(st, SHARED)
        t = T
    else:
        from data.generator import MarketParams, generate_into

        generate_into(st, MarketParams(mints=40, hours=2, seed=3))
        ((t,),) = st.con.execute("SELECT max(ts_ns) FROM ticks").fetchall()
    strat = load_strategy("momentum_breakout")
    run = run_replay(st, strat, strat.vector(), end_ts=t + 1, write=False)
    s = Strategist(strat.strategist, RecordedModel(st))
    k = run.kernel
    return s.prompt(t, run.out_i, run.out_f, k.state, k.params, mint_names(st)), strat.strategist


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold-runs", type=int, default=3)
    args = ap.parse_args()
    from strategies.strategist.model import LiveModel
    from strategies.strategist.serve.llama import LlamaEngine, answer_grammar
    from strategies.strategist.serve.models import served_model

    with tempfile.TemporaryDirectory() as tmp:
        prompt, settings = _prompt(Path(tmp) / "s")
    cold_load, cold_first = [], []
    for _ in range(args.cold_runs):
        proc, url, load_s = _spawn()
        try:
            live = LiveModel(settings.model_copy(update={"host": url, "mode": "live"}))
            r = live(prompt)
            assert r.status == "answered", r.reason
            cold_load.append(load_s)
            cold_first.append(r.latency_ms / 1e3)
        finally:
            stop_server(proc)
    proc, url, _ = _spawn()
    engine = LlamaEngine(served_model(None, None))
    req = prompt.request
    direct_req = {"messages": req["messages"], "max_tokens": req["options"]["num_predict"],
                  "temperature": 0, "seed": req["options"]["seed"],
                  "grammar": answer_grammar(req["format"])}  # fmt: skip
    warm, direct, eval_tps, prompt_tps, answers = [], [], [], [], set()
    try:
        live = LiveModel(settings.model_copy(update={"host": url, "mode": "live"}))
        for _ in range(args.runs):  # alternate: the yardstick shares the machine's moment
            r = live(prompt)
            assert r.status == "answered", r.reason
            warm.append(r.latency_ms / 1e3)
            answers.add(r.raw)
            t0 = time.perf_counter()
            res = engine.chat(direct_req)
            direct.append(time.perf_counter() - t0)
            tm = res["timings"]
            eval_tps.append(tm["predicted_per_second"])
            prompt_tps.append(tm["prompt_per_second"])
    finally:
        stop_server(proc)
    ratio = [w / d for w, d in zip(warm, direct, strict=True)]
    doc = {
        "benchmark": "strategist call on the embedded model (SmolLM2-135M Q4_1, llama.cpp "
                     "via xllamacpp, 2 threads) through `clanka llm serve` and the ollama client",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "prompt": {"data": SHARED.name if SHARED.exists() else "synthetic", "at": "17:15 UTC",
                   "prompt_tokens": r.prompt_tokens, "answer_tokens": r.answer_tokens,
                   "num_predict": settings.num_predict},
        "cold_server_ready_s": _stats(cold_load),
        "cold_first_call_s": _stats(cold_first),
        "warm_call_s": _stats(warm),
        "yardstick_llama_in_process_s": _stats(direct),
        "warm_over_yardstick": _stats(ratio),
        "answer_tokens_per_s": _stats(eval_tps),
        "prompt_tokens_per_s": _stats(prompt_tps),
        "identical_answers_across_warm_runs": len(answers) == 1,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "strategist.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
