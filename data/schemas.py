"""Event families: the columns, partitioning and on-disk encoding of each.

One Parquet dataset per family lives under the store root. Partitioned families are
laid out Hive-style as `<family>/date=YYYY-MM-DD/source=<name>/part-*.parquet`, with
`date` taken from each row's `ts_ns` (UTC). `seq` is assigned by the store when a row
is appended; callers never provide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import pyarrow as pa

from engine.codes import SignalKind


class Partitioning(Enum):
    """How a family's files are laid out under its directory."""

    DATE_SOURCE = "date_source"
    """`date=YYYY-MM-DD/source=NAME/`: for high-volume, time-ordered families."""
    NONE = "none"
    """Files directly under the family directory: for small reference families."""


@dataclass(frozen=True)
class FamilySpec:
    """Everything the store needs to know to write and read one event family."""

    name: str
    schema: pa.Schema
    partitioning: Partitioning
    compression: str
    row_group_rows: int
    doc: str

    @property
    def payload_schema(self) -> pa.Schema:
        """The columns a caller supplies on append: all but the store-assigned `seq`."""
        return pa.schema([f for f in self.schema if f.name != "seq"])


_ROW_GROUP = 1 << 17  # 131,072 rows: about 45 minutes of a busy 200-mint day per group

TICKS = FamilySpec(
    name="ticks",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("mint_id", pa.int32(), nullable=False),
            pa.field("price", pa.float64(), nullable=False),
            pa.field("size", pa.int64(), nullable=False),
            pa.field("side", pa.int8(), nullable=False),
            pa.field("liquidity", pa.float64(), nullable=False),
            pa.field("uid", pa.int64(), nullable=False),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    # The kernel's hot input: lz4 decodes about 2x faster than zstd (benchmarks/).
    compression="lz4",
    row_group_rows=_ROW_GROUP,
    doc=(
        "Market trades and pool observations. price: quote (SOL) per whole token; "
        "size: raw token units (see mints.decimals); side: +1 buy, -1 sell, 0 unknown; "
        "liquidity: pool quote reserve in quote units, NaN if unknown; uid: stable id of "
        "the source event, used to drop duplicates."
    ),
)

SIGNALS = FamilySpec(
    name="signals",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("mint_id", pa.int32(), nullable=False),
            pa.field("kind", pa.int16(), nullable=False),
            pa.field("value", pa.float64(), nullable=False),
            pa.field("uid", pa.int64(), nullable=False),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="lz4",
    row_group_rows=_ROW_GROUP,
    doc="External per-mint signals (holder, flow, sentiment...); kind is engine.codes.SignalKind.",
)

QUARANTINE = FamilySpec(
    name="quarantine",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("recorded_ts_ns", pa.int64(), nullable=False),
            pa.field("target_family", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("detail", pa.string(), nullable=False),
            pa.field("file", pa.string(), nullable=False),
            pa.field("row_no", pa.int64(), nullable=False),
            pa.field("raw", pa.string(), nullable=False),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc=(
        "Input rows refused by validation, with a reason code and the raw row as JSON. "
        "ts_ns is the row's own time when it parsed, else the time it was recorded."
    ),
)

MINTS = FamilySpec(
    name="mints",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("mint_id", pa.int32(), nullable=False),
            pa.field("mint", pa.string(), nullable=False),
            pa.field("symbol", pa.string(), nullable=True),
            pa.field("decimals", pa.int16(), nullable=False),
            pa.field("quote", pa.string(), nullable=True),
            pa.field("source", pa.string(), nullable=False),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc=(
        "One MintRegistered event per instrument: the int32 mint_id every other family "
        "uses, the base58 mint (or exchange symbol), decimals and quote asset."
    ),
)

IMPORTS = FamilySpec(
    name="imports",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("content_sha256", pa.string(), nullable=False),
            pa.field("path", pa.string(), nullable=False),
            pa.field("format", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("rows_in_file", pa.int64(), nullable=False),
            pa.field("imported", pa.int64(), nullable=False),
            pa.field("quarantined", pa.int64(), nullable=False),
            pa.field("skipped_duplicates", pa.int64(), nullable=False),
            pa.field("ticks", pa.int64(), nullable=False),
            pa.field("signals", pa.int64(), nullable=False),
            pa.field("mints_added", pa.int64(), nullable=False),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="One DataImported event per imported file or generated market (content hash recorded).",
)


def _by_run(name: str, cols: list[pa.Field], doc: str, *, run_seq: bool) -> FamilySpec:
    """A family of one run's events (source = the run id), partitioned by date and run."""
    base = [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("ts_ns", pa.int64(), nullable=False),
    ]
    if run_seq:
        base.append(pa.field("run_seq", pa.int64(), nullable=False))
    base.append(pa.field("mint_id", pa.int32(), nullable=False))
    return FamilySpec(
        name=name,
        schema=pa.schema(base + cols),
        partitioning=Partitioning.DATE_SOURCE,
        compression="zstd",
        row_group_rows=_ROW_GROUP,
        doc=doc,
    )


def _run_family(name: str, cols: list[pa.Field], doc: str) -> FamilySpec:
    """A family of kernel output events, partitioned by date and run id."""
    why = " run_seq orders a run's events across families; the source is the run id."
    return _by_run(name, cols, doc + why, run_seq=True)


def _f(name: str, t: pa.DataType) -> pa.Field:
    return pa.field(name, t, nullable=False)


_I64 = pa.int64()
_F64 = pa.float64()
_SIDE = pa.int8()
_REASON = pa.int16()

DECISION_CONTEXT = (
    "technical", "social", "fundamental", "risk_adjustment", "liquidity", "volume_5m",
    "volume_1h", "volatility", "momentum", "trend", "risk_score", "size_sol", "target_1",
    "target_2", "target_3", "sentiment", "community", "flow", "market_cap", "scan_score",
    "portfolio_risk", "correlation", "range_position",
)  # fmt: skip
"""Decision context columns, in the kernel's order (engine.layout OF_TECH onwards)."""

DECISIONS = _run_family(
    "decisions",
    [
        _f("decision_id", _I64),
        _f("action", _SIDE),
        _f("trigger", _SIDE),
        _f("sources", _SIDE),
        _f("pos_id", _I64),
        _f("side", _SIDE),
        _f("reason", _REASON),
        _f("qty", _I64),
        _f("sol", _I64),
        _f("price", _F64),
        _f("confidence", _F64),
        _f("stop_price", _F64),
        _f("max_hold_s", _I64),
        _f("trails", _SIDE),
        *(_f(name, _F64) for name in DECISION_CONTEXT),
        _f("in_seq", _I64),
    ],
    "DecisionMade: the decision engine's buy / sell / hold / skip (action) with its reason, "
    "trigger (0 position manager, 1 sniper, 2 scanner), confidence and component scores, "
    "the inputs behind them and the recommended size (sol), stop, targets, max hold and "
    "trailing flag; NaN where a value was not computed (exit rules carry no scores).",
)
ORDERS = _run_family(
    "orders",
    [
        _f("order_id", _I64),
        _f("decision_id", _I64),
        _f("pos_id", _I64),
        _f("side", _SIDE),
        _f("reason", _REASON),
        _f("qty", _I64),
        _f("sol", _I64),
        _f("price", _F64),
        _f("in_seq", _I64),
    ],
    "OrderPlaced: buys spend `sol` lamports, sells sell `qty` raw tokens.",
)
FILLS = _run_family(
    "fills",
    [
        _f("order_id", _I64),
        _f("decision_id", _I64),
        _f("pos_id", _I64),
        _f("side", _SIDE),
        _f("reason", _REASON),
        _f("qty", _I64),
        _f("sol", _I64),
        _f("fee", _I64),
        _f("network_fee", _I64),
        _f("slippage", _I64),
        _f("price", _F64),
        _f("impact", _F64),
        _f("in_seq", _I64),
    ],
    "OrderFilled: qty raw tokens; sol = lamports paid (buy) or received after the DEX fee "
    "(sell); fee, network_fee, slippage in lamports; price = pool execution price.",
)
REJECTS = _run_family(
    "rejects",
    [
        _f("order_id", _I64),
        _f("decision_id", _I64),
        _f("pos_id", _I64),
        _f("side", _SIDE),
        _f("reason", _REASON),
        _f("qty", _I64),
        _f("sol", _I64),
        _f("price", _F64),
        _f("impact", _F64),
        _f("in_seq", _I64),
    ],
    "OrderRejected: the venue refused the order (reason), e.g. impact over the limit.",
)
POSITIONS = _run_family(
    "positions",
    [
        _f("pos_id", _I64),
        _f("order_id", _I64),
        _f("decision_id", _I64),
        _f("event", _SIDE),
        _f("reason", _REASON),
        _f("qty", _I64),
        _f("sol", _I64),
        _f("price", _F64),
        _f("confidence", _F64),
        _f("level", _F64),
        _f("in_seq", _I64),
    ],
    "PositionOpened (event 1: sol = cost, level = stop) and PositionClosed (event 2: "
    "sol = realized PnL, level = entry price); decision_id is the entry decision.",
)
RISK = _run_family(
    "risk",
    [
        _f("event", _SIDE),
        _f("breaker", _SIDE),
        _f("cause", _SIDE),
        _f("value", _F64),
        _f("threshold", _F64),
        _f("in_seq", _I64),
    ],
    "BreakerTripped (event 1) and BreakerReset (event 2): breaker (engine.events.Breaker), "
    "cause (1 tripped, 2 new UTC day, 3 manual reset), the value that tripped it and its "
    "limit; mint_id is the mint whose fill or entry tripped it, -1 for global events.",
)
EQUITY = _run_family(
    "equity",
    [_f("cash_sol", _F64), _f("positions_sol", _F64), _f("equity_sol", _F64)],
    "EquityMarked, once per minute of a run: cash plus open positions at their last trade "
    "price (a derived series, rebuildable from the run's fills and the ticks; mint_id is -1).",
)
RUNS = FamilySpec(
    name="runs",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("strategy", pa.string(), nullable=False),
            pa.field("conditions", pa.string(), nullable=False),
            pa.field("params_json", pa.string(), nullable=False),
            pa.field("start_ts", pa.int64(), nullable=True),
            pa.field("end_ts", pa.int64(), nullable=True),
            pa.field("mints_json", pa.string(), nullable=False),
            pa.field("initial_cash", pa.int64(), nullable=False),
            pa.field("ticks", pa.int64(), nullable=False),
            pa.field("events_sha256", pa.string(), nullable=False),
            pa.field("report_json", pa.string(), nullable=False),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="RunCompleted: one row per replay (strategy, parameters, range, hash, report).",
)

SWEEP_METRICS = (
    "trades", "win_rate", "avg_return", "realized_pnl_sol", "unrealized_pnl_sol",
    "open_positions", "fees_sol", "slippage_sol", "max_drawdown", "sharpe", "avg_hold_s",
    "decisions", "orders", "fills", "rejects", "final_equity_sol",
)  # fmt: skip
"""Per-set sweep metrics: the replay report's metrics of the same names (NaN for none)."""

SWEEPS = FamilySpec(
    name="sweeps",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("sweep_id", pa.string(), nullable=False),
            pa.field("set_index", pa.int64(), nullable=False),
            pa.field("chunk", pa.int64(), nullable=False),
            pa.field("strategy", pa.string(), nullable=False),
            pa.field("strategy_json", pa.string(), nullable=False),
            pa.field("set_json", pa.string(), nullable=False),
            pa.field("mints_json", pa.string(), nullable=False),
            pa.field("start_ts", pa.int64(), nullable=True),
            pa.field("end_ts", pa.int64(), nullable=True),
            pa.field("ticks", pa.int64(), nullable=False),
            *(pa.field(m, pa.float64(), nullable=False) for m in SWEEP_METRICS),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="SweepSetEvaluated: one row per parameter set of a sweep (the strategy it ran on, "
    "its overrides and its metrics, so any set can be replayed again), appended a chunk "
    "of sets per transaction, so an interrupted sweep resumes at the first missing "
    "chunk; ts_ns is when the chunk finished.",
)

FEED_INPUTS = FamilySpec(
    name="feed_inputs",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("batch_no", _I64),
            _f("in_seq", _I64),
            _f("kind", pa.int8()),
            _f("mint_id", pa.int32()),
            _f("price", _F64),
            _f("size", _I64),
            _f("liquidity", _F64),
            _f("sig_kind", pa.int16()),
            _f("sig_value", _F64),
            _f("chain_ts_ns", _I64),
            _f("recv_ts_ns", _I64),
            _f("uid", _I64),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="lz4",
    row_group_rows=_ROW_GROUP,
    doc="FeedInputProcessed: every input a live (paper) run's kernel processed, in order "
    "(batch_no, in_seq): ticks from the feed with their chain time and receive time, and "
    "the wall-clock heartbeats (kind 2, mint -1); ts_ns is the time the kernel saw. The "
    "source is the run id. Replaying these reproduces the run (clanka verify parity).",
)
FEED_GAPS = FamilySpec(
    name="feed_gaps",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("end_ns", _I64),
            _f("attempts", _I64),
            _f("reason", pa.string()),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="FeedGapped: the feed received nothing from ts_ns to end_ns (a dropped connection "
    "and its reconnect attempts, or the engine down between a crash and its restart).",
)
FEED_FRAMES = FamilySpec(
    name="feed_frames",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("frame", pa.string()),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="FrameReceived: a feed's raw websocket frames as they arrived (clanka feed record); "
    "ts_ns is the receive time.",
)
LIVE_BATCHES = FamilySpec(
    name="live_batches",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("batch_no", _I64),
            _f("inputs", _I64),
            _f("outputs", _I64),
            _f("first_run_seq", _I64),
            _f("n_mints", _I64),
            _f("first_recv_ns", _I64),
            _f("decided_ns", _I64),
            pa.field("appended_ns", _I64, nullable=True),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="BatchProcessed: one row per kernel batch of a live run: its sizes, the earliest "
    "frame receipt among its inputs (-1 for heartbeat-only batches), when the kernel had "
    "decided and when the batch was appended to the write-ahead log (null when it was "
    "recovered from the log after a crash). The highest batch_no is what Parquet holds.",
)

REPAIRS = FamilySpec(
    name="repairs",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("family", pa.string()),
            _f("path", pa.string()),
            _f("rows", _I64),
            _f("problem", pa.string()),
            _f("detail", pa.string()),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="SegmentDropped: `clanka store repair --drop-missing` removed a missing or "
    "unreadable segment from the manifest: its family, path, the rows lost and why "
    "(missing, size, hash, unreadable, rows). Committed with the removal itself.",
)

CONTROL_ORIGINS = ("config", "operator", "strategist", "adaptation", "venue")
"""Who may steer a run; a `controls` row's source is one of these."""

CONTROLS = FamilySpec(
    name="controls",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("mint_id", pa.int32()),
            _f("control", pa.string()),
            _f("name", pa.string()),
            _f("value", _F64),
            _f("conditions", pa.string()),
            _f("old_value", _F64),
            _f("reason", pa.string()),
            _f("evidence", pa.string()),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="ControlRequested: a change that steers the kernel from ts_ns on, as input in every "
    "mode: control 'param' (name = value), 'conditions' (the new entry set; 'none' turns "
    "the sniper off) or 'signal' (name emergency-stop, emergency-exit or reset). The "
    "source says who asked (config, operator, strategist, adaptation); old_value is the "
    "value the requester saw (NaN if unknown), reason and "
    "evidence (JSON) say why. Each run logs what it applied or refused in `params`.",
)

PARAMS = _run_family(
    "params",
    [
        _f("control", pa.string()),
        _f("name", pa.string()),
        _f("old_value", _F64),
        _f("new_value", _F64),
        _f("status", pa.string()),
        _f("refusal", pa.string()),
        _f("control_seq", _I64),
    ],
    "ParameterChanged / ConditionsChanged / ControlRefused: what a run did with each "
    "control at its event time: status 'applied' (old_value -> new_value of the run's "
    "own vector; for a condition set the number of conditions before and after) or "
    "'refused' (refusal says why; nothing changed). control_seq is the `controls` row it "
    "came from; the param_history view joins it for the set's text, source and reason.",
)

STRATEGIST = FamilySpec(
    name="strategist",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("mint_id", pa.int32()),
            _f("call_no", _I64),
            _f("apply_ts_ns", _I64),
            _f("trigger", pa.string()),
            _f("mode", pa.string()),
            _f("model", pa.string()),
            _f("host", pa.string()),
            _f("prompt", pa.string()),
            _f("prompt_sha256", pa.string()),
            _f("answer", pa.string()),
            _f("done_reason", pa.string()),
            _f("parsed", pa.string()),
            _f("status", pa.string()),
            _f("reason", pa.string()),
            _f("changes", pa.string()),
            _f("latency_ms", _F64),
            _f("prompt_tokens", _I64),
            _f("answer_tokens", _I64),
            _f("attempts", _I64),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="StrategistAsked: one LLM strategist call of a run (the source), at its due time "
    "ts_ns (trigger 'schedule', or 'request': an operator asked): the model and host "
    "(credentials redacted), the whole request (prompt) and its sha256, the raw answer and "
    "done_reason, the validated proposal (parsed, JSON), the "
    "status (accepted, unchanged, refused, invalid_json, invalid_answer, truncated, "
    "timeout, unreachable, model_missing, http_error, missing) with its reason, and the "
    "change it made (changes), which takes effect at apply_ts_ns. mode 'live' rows are "
    "what a model said; 'recorded' rows reused one by prompt_sha256.",
)


def _learning_family(name: str, cols: list[pa.Field], doc: str) -> FamilySpec:
    """A family of the learning loop's events, partitioned by date and run id."""
    return _by_run(name, cols, doc + " The source is the run id (strategies.learning).",
                   run_seq=False)  # fmt: skip


_STR = pa.string()
_BOOL = pa.bool_()
REVIEWS = _learning_family(
    "reviews",
    [
        _f("review_no", _I64),
        _f("pos_id", _I64),
        _f("decision_id", _I64),
        _f("entry_ts_ns", _I64),
        _f("exit_ts_ns", _I64),
        _f("horizon_end_ns", _I64),
        _f("complete", _BOOL),
        _f("exit_reason", _STR),
        _f("exits", _STR),
        _f("trigger", _I64),
        _f("sources", _I64),
        _f("cost_sol", _F64),
        _f("pnl_sol", _F64),
        _f("entry_price", _F64),
        _f("exit_price", _F64),
        _f("best_price", _F64),
        _f("actual_return", _F64),
        _f("optimal_return", _F64),
        _f("efficiency", _F64),
        _f("max_drawdown", _F64),
        _f("time_to_optimal_s", _F64),
        _f("post_exit_high", _F64),
        _f("post_exit_low", _F64),
        _f("min_liquidity_ratio", _F64),
        _f("rug", _BOOL),
        _f("rug_cause", _STR),
        _f("outcome", _STR),
        _f("ticks", _I64),
        _f("liquidity", _F64),
        _f("momentum", _F64),
        _f("sentiment", _F64),
        _f("range_position", _F64),
        _f("volume_5m", _F64),
        _f("volume_1h", _F64),
        _f("volatility", _F64),
        _f("top3_pct", _F64),
        _f("age_min", _F64),
        _f("token_type", _F64),
        _f("liquidity_bucket", _STR),
        _f("holders_bucket", _STR),
        _f("momentum_bucket", _STR),
        _f("age_bucket", _STR),
        _f("sentiment_bucket", _STR),
        _f("token_type_bucket", _STR),
    ],
    "TradeReviewed (seed analyzeTradePerformance): one closed trade, stamped at exit + "
    "review_horizon_s when its inputs were known (complete false: the run ended first and "
    "it was stamped at the run's end): actual and optimal return, efficiency, drawdown, "
    "time to the best price, rug and outcome, the entry's features and their buckets. "
    "strategies.learning.review defines every number.",
)
PATTERN_HITS = _learning_family(
    "pattern_hits",
    [
        _f("review_no", _I64),
        _f("pos_id", _I64),
        _f("pattern", _STR),
        _f("success", _BOOL),
        _f("actual_return", _F64),
        _f("evidence", _STR),
    ],
    "PatternMatched: a reviewed trade matched a rule of the pattern library "
    "(strategies.learning.patterns), with the values the rule tested (evidence, JSON); "
    "success = the trade made money after fees.",
)
INSIGHTS = _learning_family(
    "insights",
    [
        _f("insight_no", _I64),
        _f("kind", _STR),
        _f("subject", _STR),
        _f("verdict", _STR),
        _f("trades", _I64),
        _f("value", _F64),
        _f("previous", _F64),
        _f("p_value", _F64),
        _f("window_start_ns", _I64),
        _f("text", _STR),
        _f("detail", _STR),
    ],
    "InsightRecorded, by the hourly reflection: kind 'summary' (the window's numbers), "
    "'change' (a metric that changed between windows, with its permutation p-value) or "
    "'lesson' (what worked or failed: a pattern, an entry bucket or a mint; market "
    "conditions in detail). mint_id is the mint a lesson is about, else -1.",
)
ADAPTATIONS = _learning_family(
    "adaptations",
    [
        _f("adaptation_no", _I64),
        _f("apply_ts_ns", _I64),
        _f("action", _STR),
        _f("rule", _STR),
        _f("param", _STR),
        _f("old_value", _F64),
        _f("new_value", _F64),
        _f("mode", _STR),
        _f("status", _STR),
        _f("ref_no", _I64),
        _f("reason", _STR),
        _f("counts", _STR),
        _f("evidence", _STR),
    ],
    "StrategyAdapted (seed adaptStrategy): action 'adapt' (a rule moved a parameter by its "
    "step: status 'sent' to the kernel at apply_ts_ns, or 'observed' in observe mode), "
    "'follow_up' (the effect of adaptation ref_no: status better, worse or inconclusive) "
    "or 'revert' (ref_no made things significantly worse: its old value back); counts and "
    "evidence (JSON) say why. The run's params family shows what the kernel did.",
)


VALIDATIONS = FamilySpec(
    name="validations",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            _f("kind", pa.string()),
            _f("plan_sha256", pa.string()),
            _f("plan_toml", pa.string()),
            _f("learner_run_id", pa.string()),
            _f("verdict", pa.string()),
            _f("test_days", _I64),
            _f("mean_difference", _F64),
            _f("ci_low", _F64),
            _f("ci_high", _F64),
            _f("p_value", _F64),
            _f("deflated_sharpe", _F64),
            _f("result_json", pa.string()),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="ValidationCompleted: one `clanka validate learning` result: the pre-registered plan "
    "(its TOML and SHA-256), the learner arm's run id, the verdict, the paired effect "
    "(mean daily difference, its interval, p-value, deflated Sharpe ratio) and the whole "
    "result as JSON (per-day returns of both arms, limits, adaptations).",
)

ALERTS = _by_run(
    "alerts",
    [
        _f("kind", _STR),
        _f("rule", _STR),
        _f("severity", _STR),
        _f("status", _STR),
        _f("reason", _STR),
        _f("channel", _STR),
        _f("message_kind", _STR),
        _f("alerts_in", _I64),
        _f("attempts", _I64),
        _f("sent_ns", _I64),
        _f("text", _STR),
    ],
    "AlertRaised (kind 'alert': a rule fired at ts_ns; status 'sent' at once or 'held' "
    "with the reason: grouping, rate_limit or quiet_hours) and MessageSent (kind "
    "'message': one message on one channel, message_kind alert / group / digest carrying "
    "alerts_in alerts; status 'delivered' or 'failed' with the reason, after `attempts` "
    "tries, finished at wall time sent_ns). The source is the run id; tokens and webhook "
    "URLs never appear (replay.alerts).",
    run_seq=False,
)

VENUE_ORDERS = _by_run(
    "venue_orders",
    [
        _f("order_id", _I64),
        _f("decision_id", _I64),
        _f("side", _SIDE),
        _f("status", _STR),
        _f("signature", _STR),
        _f("last_valid_block_height", _I64),
        _f("reason", _STR),
        _f("category", _STR),
        _f("message", _STR),
        _f("amount", _I64),
        _f("decision_price", _F64),
        _f("quoted_in", _I64),
        _f("quoted_out", _I64),
        _f("threshold", _I64),
        _f("impact_pct", _F64),
        _f("sol_delta", _I64),
        _f("token_delta", _I64),
        _f("fee", _I64),
        _f("rent", _I64),
        _f("priority_fee", _I64),
        _f("slot", _I64),
        _f("attempts", _I64),
        _f("decided_ns", _I64),
        _f("landed_ns", _I64),
        _f("checks", _STR),
    ],
    "OrderSubmitted and OrderResolved, the live venue's journal (replay.live.router): a "
    "'submitted' row with the transaction's signature is committed before the "
    "transaction is sent; one more row says how it ended: 'filled' (sol_delta and "
    "token_delta are the wallet's actual balance changes, fee the network and priority "
    "fees, rent what new token accounts hold), 'rejected' (reason, category critical / "
    "warning / info, message) or 'dry_run' (the quote and the checks, nothing sent). "
    "amount is lamports to spend (buy) or raw units to sell; decision_price and the "
    "quote's amounts give the execution quality. A restart resolves every signature "
    "without an ending against the chain before anything is sent again.",
    run_seq=False,
)

DEAD_LETTERS = _by_run(
    "dead_letters",
    [
        *(f for f in VENUE_ORDERS.payload_schema if f.name not in ("ts_ns", "mint_id")),
        _f("order_json", _STR),
    ],
    "OrderDeadLettered: a live order that failed for good at the venue (not a pre-flight "
    "refusal: a swap that landed and failed, a refusal by the node's simulation, retries "
    "exhausted, an order whose fate could not be learned), with everything needed to "
    "understand it: the venue_orders columns of its ending and the order itself as JSON. "
    "Too many in a short time trip the emergency stop (replay.live.router).",
    run_seq=False,
)

RECONCILIATIONS = _by_run(
    "reconciliations",
    [
        _f("asset", _STR),
        _f("log_amount", _I64),
        _f("chain_amount", _I64),
        _f("difference", _I64),
    ],
    "BalancesReconciled, at each start of a live run: for SOL (asset 'SOL', mint_id -1, "
    "lamports) and each open position's token (its mint, raw units), what the log says, "
    "what the wallet holds on chain, and the difference, which the run then applies to "
    "its kernel as an input (the chain wins).",
    run_seq=False,
)

_ALL = (TICKS, SIGNALS, QUARANTINE, MINTS, IMPORTS, DECISIONS, ORDERS, FILLS, REJECTS, POSITIONS,
        RISK, EQUITY, RUNS, SWEEPS, FEED_INPUTS, FEED_GAPS, FEED_FRAMES, LIVE_BATCHES,
        REPAIRS, CONTROLS, PARAMS, STRATEGIST, REVIEWS, PATTERN_HITS, INSIGHTS,
        ADAPTATIONS, VALIDATIONS, ALERTS, VENUE_ORDERS, DEAD_LETTERS,
        RECONCILIATIONS)  # fmt: skip
FAMILIES: dict[str, FamilySpec] = {f.name: f for f in _ALL}


_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_source_name(source: str) -> str:
    """Validate a source or run id used as a Hive partition value.

    It becomes a directory name, so it must be short and path-safe.
    """
    if not _SOURCE_RE.fullmatch(source):
        raise ValueError(
            f"invalid source name {source!r}: use 1-64 characters from "
            "letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return source


def signal_kind_case_sql(column: str = "kind") -> str:
    """SQL CASE expression that maps SignalKind codes to their lower-case names."""
    arms = " ".join(f"WHEN {k.value} THEN '{k.label}'" for k in SignalKind)
    return f"CASE {column} {arms} ELSE 'unknown' END"
