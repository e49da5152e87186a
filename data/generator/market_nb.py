"""Numba kernel of the synthetic memecoin market (SYNTHETIC data, for demos and benchmarks).

Pure function over preallocated arrays: no I/O, no clock, no Python objects. It uses
its own splitmix64 generator (not numpy's) so that the same seed produces the same
market on every machine and numpy version.

Model, per mint (independent streams seeded from (seed, mint index)):
- launch at a uniform time in the first `launch_frac` of the horizon (75% by default)
  on a pump.fun-like curve:
  virtual reserves 30 SOL / 1.073e9 tokens, constant product, 1% fee on the SOL leg;
  the developer (trader 0) buys 0.5-3 SOL at launch;
- a regime chain calm -> pump / dump / rug with exponential durations; trades arrive
  as a Poisson process whose rate, buy probability and size depend on the regime;
- a rug: the developer and the three largest holders sell everything within seconds,
  after which the mint is dead (a trickle of trades);
- every 60 s of activity the mint emits the pump.fun tracker's signal kinds (unique
  buyers, top-3 concentration, whale flag, bot-like flag, buy/sell pressure).

Drift (off unless `drift_start_ns` >= 0), "rug traps": from that time on (ns after
the start), developers of thin pools dump on momentum buyers. At each minute mark (the
first trade 60 s or more after the last mark) of a live mint whose pool holds less than
`trap_below` SOL, if the price is TRAP_MOMENTUM (5%) or more above its level five marks
ago, the mint becomes a trap with probability `trap_chance`: its rug starts 30-150 s
later. A pool past `trap_below` is never trapped, so the danger is a liquidity level a
filter can avoid: the drift the learning loop's raise_min_liquidity rule can find and
exploit. Before the drift sets in, and in markets without it, the generator draws
exactly the random numbers it drew before the drift existed: those days are the same
market, tick for tick.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GOLD = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
S30 = np.uint64(30)
S27 = np.uint64(27)
S31 = np.uint64(31)
S11 = np.uint64(11)
INV53 = 1.0 / 9007199254740992.0

V_SOL0 = 30.0
V_TOK0 = 1_073_000_000.0
FEE = 0.01
TOKEN_SCALE = 1_000_000.0  # 6 decimals
N_TRADERS = 256
BOT = 1  # trader index of the high-frequency bot
SIGNAL_EVERY_NS = 60_000_000_000
WHALE_SOL = 2.0
MIN_TRADE_SOL = 0.001
"""Trades whose SOL leg is smaller do not happen (dust; also keeps float error ~1e-11)."""

CALM, PUMP, DUMP, DEAD = 0, 1, 2, 3
# Per regime: trade rate (1/s), P(buy), median buy (SOL), mean duration (s).
RATE = np.array([0.12, 3.0, 2.0, 0.004])
P_BUY = np.array([0.5, 0.66, 0.3, 0.3])
BUY_MEDIAN = np.array([0.2, 0.3, 0.15, 0.05])
DURATION = np.array([1800.0, 420.0, 600.0, 1e18])
# Transition probabilities from calm / pump / dump to (calm, pump, dump, rug).
TRANSITION = np.array(
    [
        [0.0, 0.54, 0.40, 0.06],
        [0.35, 0.0, 0.62, 0.03],
        [0.75, 0.15, 0.0, 0.10],
    ]
)

# Signal kind codes (engine.codes.SignalKind; kernels cannot import enums).
K_UNIQUE_BUYERS, K_TOP3, K_WHALE, K_BOT, K_BUYP, K_SELLP = 1, 2, 3, 4, 5, 6

OK, TICKS_FULL, SIGNALS_FULL = 0, 1, 2
TRAP_MOMENTUM = 0.05
"""Rug traps: the rise over five minute marks that draws momentum buyers (and the trap)."""
MARK_NS = 60_000_000_000


@njit(cache=True, inline="always")
def _next_u64(state: np.ndarray) -> np.uint64:
    state[0] += GOLD
    z = state[0]
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


@njit(cache=True, inline="always")
def _uniform(state: np.ndarray) -> float:
    """Uniform in (0, 1]: never 0, so log() is always finite."""
    return (float(_next_u64(state) >> S11) + 1.0) * INV53


@njit(cache=True, inline="always")
def _normal(state: np.ndarray) -> float:
    u1 = _uniform(state)
    u2 = _uniform(state)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def simulate_market_nb(
    n_mints: int,
    horizon_ns: int,
    seed: int,
    t_ts: np.ndarray,
    t_mint: np.ndarray,
    t_price: np.ndarray,
    t_size: np.ndarray,
    t_side: np.ndarray,
    t_liq: np.ndarray,
    t_uid: np.ndarray,
    s_ts: np.ndarray,
    s_mint: np.ndarray,
    s_kind: np.ndarray,
    s_value: np.ndarray,
    counts: np.ndarray,
    regimes: np.ndarray,
    launch_frac: float,
    drift_start_ns: int,
    trap_below: float,
    trap_chance: float,
) -> int:
    """Fill tick and signal buffers, mint by mint; return a status code.

    counts[0] / counts[1] receive the ticks / signals written; regimes[r] counts the
    episodes of each regime (calm, pump, dump, rug). Buffers are in generation order
    (mint by mint, time-ordered within a mint). Returns TICKS_FULL or SIGNALS_FULL
    if a buffer is too small (the caller retries with larger buffers).
    """
    nt = 0
    ns = 0
    cap_t = t_ts.shape[0]
    cap_s = s_ts.shape[0]
    state = np.zeros(1, dtype=np.uint64)
    hold = np.zeros(N_TRADERS)
    bought = np.zeros(N_TRADERS, dtype=np.bool_)
    marks = np.zeros(5)  # the pool price at the last five minute marks (rug traps)
    for m in range(n_mints):
        state[0] = np.uint64(seed) * M1 ^ np.uint64(m + 1) * M2
        hold[:] = 0.0
        bought[:] = False
        v_sol = V_SOL0
        v_tok = V_TOK0
        k = V_SOL0 * V_TOK0
        t = int(_uniform(state) * launch_frac * horizon_ns)
        regime = CALM
        regime_end = t + int(-np.log(_uniform(state)) * DURATION[CALM] * 1e9)
        regimes[CALM] += 1
        trade_no = 0
        last_signal = t
        w_buy = 0.0
        w_sell = 0.0
        w_whale = False
        w_trades = 0
        w_bot = 0
        rug_left = 0
        first = True
        trap_at = -1  # when a rug trap springs (-1: not a trap)
        n_marks = 0
        next_mark = 0
        while True:
            if first:
                trader = 0
                is_buy = True
                amount = 0.5 + 2.5 * _uniform(state)
                first = False
            elif rug_left > 0:
                # Sell the largest remaining holding (developer first), seconds apart.
                t += int((0.2 + 2.0 * _uniform(state)) * 1e9)
                trader = 0
                if hold[0] <= 0.0:
                    best = 0.0
                    for j in range(N_TRADERS):
                        if hold[j] > best:
                            best = hold[j]
                            trader = j
                rug_left -= 1
                is_buy = False
                amount = hold[trader]
                if amount <= 0.0:
                    rug_left = 0
                    continue
            else:
                dt = -np.log(_uniform(state)) / RATE[regime]
                t_next = t + int(dt * 1e9)
                if 0 <= trap_at <= t_next and trap_at <= regime_end:
                    # The trap springs: the developer and the top holders sell out.
                    t = trap_at
                    trap_at = -1
                    regimes[3] += 1
                    regime = DEAD
                    rug_left = 4
                    regime_end = horizon_ns
                    continue
                if t_next >= regime_end and regime != DEAD:
                    t = regime_end
                    u = _uniform(state)
                    acc = 0.0
                    nxt = DEAD
                    for r in range(4):
                        acc += TRANSITION[regime, r]
                        if u < acc:
                            nxt = r
                            break
                    regimes[nxt] += 1
                    if nxt == 3:
                        trap_at = -1
                        regime = DEAD
                        rug_left = 4
                        regime_end = horizon_ns
                    else:
                        regime = nxt
                        regime_end = t + int(-np.log(_uniform(state)) * DURATION[nxt] * 1e9)
                    continue
                t = t_next
                if regime == PUMP and _uniform(state) < 0.3:
                    trader = BOT
                else:
                    trader = 2 + int(_uniform(state) * (N_TRADERS - 2))
                is_buy = _uniform(state) < P_BUY[regime]
                if is_buy:
                    amount = BUY_MEDIAN[regime] * np.exp(1.0 * _normal(state))
                    amount = min(max(amount, 0.01), 25.0)
                else:
                    if hold[trader] <= 0.0:
                        for _ in range(8):
                            trader = 2 + int(_uniform(state) * (N_TRADERS - 2))
                            if hold[trader] > 0.0:
                                break
                    if hold[trader] <= 0.0:
                        is_buy = True
                        amount = BUY_MEDIAN[regime]
                    else:
                        amount = hold[trader] * (0.2 + 0.8 * _uniform(state))
            if t >= horizon_ns:
                break
            if is_buy:
                sol = amount * (1.0 - FEE)
                tokens = v_tok - k / (v_sol + sol)
            else:
                tokens = amount
                sol = v_sol - k / (v_tok + tokens)
            raw = np.floor(tokens * TOKEN_SCALE)
            if raw < 1.0 or sol < MIN_TRADE_SOL:
                continue  # dust: it does not happen at all, and the pool does not move
            if is_buy:
                v_sol += sol
                v_tok -= tokens
                hold[trader] += tokens
                bought[trader] = True
                w_buy += amount
                if amount >= WHALE_SOL:
                    w_whale = True
            else:
                v_tok += tokens
                v_sol -= sol
                hold[trader] -= tokens
                w_sell += sol
            if nt >= cap_t:
                counts[0] = nt
                counts[1] = ns
                return TICKS_FULL
            t_ts[nt] = t
            t_mint[nt] = m
            t_price[nt] = sol / tokens
            t_size[nt] = np.int64(raw)
            t_side[nt] = 1 if is_buy else -1
            t_liq[nt] = v_sol
            t_uid[nt] = (np.int64(m) << 32) | np.int64(trade_no)
            nt += 1
            trade_no += 1
            w_trades += 1
            if trader == BOT:
                w_bot += 1
            if (0 <= drift_start_ns <= t and t >= next_mark and regime != DEAD and trap_at < 0
                    and rug_left == 0):  # fmt: skip
                now = v_sol / v_tok
                ref = marks[n_marks % 5]
                marks[n_marks % 5] = now
                n_marks += 1
                next_mark = t + MARK_NS
                if (n_marks > 5 and v_sol < trap_below and now >= ref * (1.0 + TRAP_MOMENTUM)
                        and _uniform(state) < trap_chance):  # fmt: skip
                    trap_at = t + int((30.0 + 120.0 * _uniform(state)) * 1e9)
            if t - last_signal >= SIGNAL_EVERY_NS:
                if ns + 6 > cap_s:
                    counts[0] = nt
                    counts[1] = ns
                    return SIGNALS_FULL
                held = 0.0
                a = 0.0
                b = 0.0
                c = 0.0
                n_buyers = 0
                for j in range(N_TRADERS):
                    h = hold[j]
                    if bought[j]:
                        n_buyers += 1
                    if h > 0.0:
                        held += h
                        if h > a:
                            c = b
                            b = a
                            a = h
                        elif h > b:
                            c = b
                            b = h
                        elif h > c:
                            c = h
                top3 = 100.0 * (a + b + c) / held if held > 0.0 else 0.0
                vals = (
                    float(n_buyers),
                    top3,
                    1.0 if w_whale else 0.0,
                    1.0 if w_trades > 0 and w_bot >= 0.4 * w_trades else 0.0,
                    w_buy,
                    w_sell,
                )
                for q in range(6):
                    s_ts[ns + q] = t
                    s_mint[ns + q] = m
                    s_kind[ns + q] = q + 1
                    s_value[ns + q] = vals[q]
                ns += 6
                last_signal = t
                w_buy = 0.0
                w_sell = 0.0
                w_whale = False
                w_trades = 0
                w_bot = 0
    counts[0] = nt
    counts[1] = ns
    return OK
