"""A slow, plain-Python reference of the kernel's documented rules, for agreement tests.

Written independently of engine/kernel_nb.py and in a different style: objects and
dictionaries instead of packed arrays, minute bars kept in a dict instead of a ring,
windows summed from scratch instead of running sums, volatility iterated minute by
minute instead of with a closed-form decay. Only the rules (README / kernel
docstring) are shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.codes import SignalKind
from engine.events import Action, Breaker, BreakerCause, OutKind, Reason, Refusal
from engine.layout import (
    N_OUT_F,
    OF_COMMUNITY,
    OF_FIRST_CONTEXT,
    OF_FLOW,
    OF_FUND,
    OF_LIQ,
    OF_MCAP,
    OF_MOMENTUM,
    OF_OUT_CONF,
    OF_PORT_RISK,
    OF_PRICE,
    OF_RANGE,
    OF_RISK_SCORE,
    OF_RISKADJ,
    OF_SENTIMENT,
    OF_SIZE_SOL,
    OF_SOCIAL,
    OF_TECH,
    OF_TP1,
    OF_TP2,
    OF_TP3,
    OF_TREND,
    OF_VOL5,
    OF_VOL60,
    OF_VOLATILITY,
)
from engine.params import P, make_params

NS_MIN = 60_000_000_000


@dataclass
class Mint:
    scale: float
    first_price: float = math.nan
    first_ts: int = 0
    first_min: int = 0
    ticks: int = 0
    last: float = math.nan
    liq: float = math.nan
    closes: dict[int, float] = field(default_factory=dict)
    highs: dict[int, float] = field(default_factory=dict)
    lows: dict[int, float] = field(default_factory=dict)
    vols: dict[int, float] = field(default_factory=dict)
    ema_fast: float = math.nan
    ema_slow: float = math.nan
    nbar_low: float = math.nan
    last_ts: int = 0
    log_after: int = -(2**63)
    cur_min: int = 0
    var: float = 0.0
    prev_close: float = math.nan
    nbar_high: float = math.nan
    signals: dict[int, float] = field(default_factory=dict)
    cooldown_until: int = 0
    order: Order | None = None
    position: Position | None = None

    def close(self, k: int) -> float:
        if k < self.first_min:
            return self.first_price
        best = max(m for m in self.closes if m <= k)
        return self.closes[best]

    def high(self, k: int) -> float:
        return self.highs[k] if k in self.highs else self.close(k)

    def low(self, k: int) -> float:
        return self.lows[k] if k in self.lows else self.close(k)

    def window(self, minutes: int) -> float:
        return sum(v for m, v in self.vols.items() if self.cur_min - minutes < m <= self.cur_min)


@dataclass
class Order:
    oid: int
    side: int
    placed: int
    due: int
    qty: int
    spend: int
    reason: Reason
    reserved: int
    stop_frac: float = 0.0
    conf: float = 0.0
    dec_id: int = 0
    max_hold: int = 0
    risk_sol: float = 0.0
    placed_seq: int = -(2**63)
    """Input seq of the event that placed it: an order never fills at that event."""


@dataclass
class Position:
    pid: int
    qty: int
    qty0: int
    opened: int
    entry: float
    stop: float
    trail_high: float
    trailing: bool
    entry_vol60: float
    conf: float
    cost: int
    proceeds: int = 0
    hit: int = 0
    fee_reserve: int = 0
    max_hold: int = 0
    dec_id: int = 0


@dataclass
class Ref:
    params: list[float]
    conditions: list[tuple[int, int, float]]
    scales: list[float]
    cash: int = 0
    reserved: int = 0
    used: int = 0
    next_oid: int = 0
    next_pid: int = 0
    next_did: int = 0
    breakers: set[int] = field(default_factory=set)
    day: int = -1
    day_start_equity: int = 0
    day_pnl: int = 0
    day_trades: int = 0
    consec: int = 0
    out: list[tuple] = field(default_factory=list)
    mints: dict[int, Mint] = field(default_factory=dict)
    slot_of: dict[int, int] = field(default_factory=dict)
    staged: tuple[int, list[tuple[int, int, float]]] | None = None
    sol_usd: float = math.nan
    """Position slot held by each mint with an open position or a pending entry."""

    def __post_init__(self) -> None:
        self.cash = round(self.params[P.INITIAL_CASH_SOL] * 1e9)
        self.mints = {i: Mint(s) for i, s in enumerate(self.scales)}

    # --------------------------------------------------------------- helpers
    def p(self, k: P) -> float:
        return self.params[k]

    def min_liquidity(self) -> float:
        """min_liquidity_usd / SOL/USD when both are known, else min_liquidity (SOL)."""
        if self.sol_usd == self.sol_usd and self.p(P.MIN_LIQUIDITY_USD) > 0:
            return self.p(P.MIN_LIQUIDITY_USD) / self.sol_usd
        return self.p(P.MIN_LIQUIDITY)

    def mcap_bounds(self) -> tuple[float, float]:
        """The market-cap scoring bounds in SOL, from USD where set and SOL/USD known."""
        if self.sol_usd == self.sol_usd and self.p(P.MCAP_HIGH_USD) > 0:
            return max(self.p(P.MCAP_LOW_USD), 1e-9) / self.sol_usd, (
                self.p(P.MCAP_HIGH_USD) / self.sol_usd
            )
        return self.p(P.MCAP_LOW_SOL), self.p(P.MCAP_HIGH_SOL)

    @property
    def netfee(self) -> int:
        return int(self.p(P.NETWORK_FEE_LAMPORTS) + self.p(P.PRIORITY_FEE_LAMPORTS))

    def emit(
        self,
        kind: OutKind,
        ts: int,
        mint: int,
        oid: int,
        pid: int,
        side: int,
        reason: int,
        qty: int,
        sol: int,
        fee: int,
        netfee: int,
        slip: int,
        seq: int,
        price: float,
        conf: float,
        stop: float,
        *,
        dec_id: int = 0,
        action: int = 0,
        trigger: int = 0,
        max_hold_s: int = 0,
        trailing: int = 0,
        ctx: dict[int, float] | None = None,
    ) -> None:
        context = [(ctx or {}).get(c, math.nan) for c in range(OF_FIRST_CONTEXT, N_OUT_F)]
        self.out.append(
            (
                int(kind),
                ts,
                mint,
                oid,
                pid,
                side,
                int(reason),
                qty,
                sol,
                fee,
                netfee,
                slip,
                seq,
                dec_id,
                action,
                trigger,
                0,
                max_hold_s,
                trailing,
                price,
                conf,
                stop,
                *context,
            )
        )

    def feature(self, fid: int, m: Mint, t: int) -> float:
        if fid == 0:
            return m.last
        if fid in (1, 2, 3):
            back = {1: 1, 2: 5, 3: 60}[fid]
            return m.last / m.close(m.cur_min - back) - 1
        if fid == 4:
            return math.sqrt(m.var)
        if fid == 5:
            return m.last / m.nbar_high - 1
        if fid == 6:
            return m.window(5)
        if fid == 7:
            return m.window(60)
        if fid == 8:
            v60 = m.window(60)
            return m.window(5) / (v60 / 12) if v60 > 0 else math.nan
        if fid == 9:
            return float(m.ticks)
        if fid == 10:
            return m.liq
        if fid == 11:
            return (t - m.first_ts) / NS_MIN
        if fid == 12:
            return self.ema_now(m, P.EMA_FAST_MIN) / self.ema_now(m, P.EMA_SLOW_MIN) - 1
        if fid == 13:
            hi, lo = m.nbar_high, m.nbar_low
            return (m.last - lo) / (hi - lo) if hi > lo else math.nan
        if fid == 14:
            total = sum(m.vols.values())
            alive = m.cur_min - m.first_min + 1
            return (m.window(5) / min(5, alive)) / (total / alive) if total > 0 else math.nan
        if fid == 15:
            return self.market_cap(m)
        return m.signals.get(fid - 16, math.nan)

    def ema_now(self, m: Mint, span: P) -> float:
        """EMA of completed closes, moved once more toward the current price."""
        a = 2 / (self.p(span) + 1)
        ema = m.ema_fast if span == P.EMA_FAST_MIN else m.ema_slow
        return ema + a * (m.last - ema)

    def market_cap(self, m: Mint) -> float:
        mc = m.signals.get(SignalKind.MARKET_CAP, math.nan)
        if mc > 0:
            return mc
        supply = self.p(P.ASSUMED_SUPPLY_TOKENS)
        return m.last * supply if supply > 0 else math.nan

    def is_meme(self, m: Mint) -> bool:
        tt = m.signals.get(SignalKind.TOKEN_TYPE, math.nan)
        return tt >= 0.5 if not math.isnan(tt) else self.p(P.DEFAULT_MEME) >= 0.5

    # ------------------------------------------------------ decision engine
    def scores(self, m: Mint, t: int) -> dict[int, float]:
        """The documented confidence rules, as weighted means of present inputs."""

        def wmean(parts: list[tuple[float, float]]) -> float:
            den = sum(w for w, v in parts if not math.isnan(v))
            num = sum(w * v for w, v in parts if not math.isnan(v))
            return num / den if den > 0 else math.nan

        def clamp(x: float) -> float:
            return math.nan if math.isnan(x) else min(1.0, max(0.0, x))

        sig = m.signals.get
        sigma = math.sqrt(m.var)
        trend = self.feature(12, m, t)
        mom = self.feature(2, m, t)
        rng = self.feature(13, m, t)
        tech = wmean([
            (self.p(P.TW_TREND), clamp(0.5 + trend / (2 * self.p(P.TREND_SCALE)))),
            (self.p(P.TW_MOMENTUM), clamp(0.5 + mom / (2 * self.p(P.MOMENTUM_SCALE)))),
            (self.p(P.TW_VOLUME), clamp(self.feature(8, m, t) / self.p(P.VOLUME_RATIO_FULL))),
            (self.p(P.TW_VOLATILITY), 1 - clamp(sigma / self.p(P.VOLATILITY_MAX))),
            (self.p(P.TW_RANGE), clamp(rng)),
        ])  # fmt: skip
        nan = math.nan
        com = sig(SignalKind.COMMUNITY_SIZE, nan)
        if math.isnan(com):
            com = sig(SignalKind.UNIQUE_BUYERS, nan)
        buy, sell = sig(SignalKind.BUY_PRESSURE, nan), sig(SignalKind.SELL_PRESSURE, nan)
        flow = nan
        if not (math.isnan(buy) or math.isnan(sell)) and max(buy, 0) + max(sell, 0) > 0:
            flow = max(buy, 0) / (max(buy, 0) + max(sell, 0))
        sen = sig(SignalKind.SENTIMENT, nan)
        community = math.log10(1 + max(com, 0)) / math.log10(1 + self.p(P.COMMUNITY_FULL))
        social = wmean([
            (self.p(P.SW_SENTIMENT), clamp((sen + 1) / 2)),
            (self.p(P.SW_ENGAGEMENT), clamp(sig(SignalKind.ENGAGEMENT, nan))),
            (self.p(P.SW_NARRATIVE), clamp(sig(SignalKind.NARRATIVE_HEAT, nan))),
            (self.p(P.SW_COMMUNITY), clamp(community) if not math.isnan(com) else nan),
            (self.p(P.SW_FLOW), flow),
        ])  # fmt: skip
        meme = self.is_meme(m)
        ext = sig(SignalKind.RISK_SCORE, nan)
        mcap = self.market_cap(m)
        lo, hi = self.mcap_bounds()
        span = math.log(hi / lo)
        known_mcap = mcap > 0
        fund = wmean([
            (self.p(P.FW_RISK), 1 - clamp(ext / 10)),
            (self.p(P.FW_TYPE), self.p(P.MEME_TYPE_SCORE if meme else P.OTHER_TYPE_SCORE)),
            (self.p(P.FW_MCAP),
             clamp(math.log(hi / mcap) / span) if known_mcap else nan),
            (self.p(P.FW_LIQUIDITY), clamp(m.liq / self.p(P.LIQUIDITY_FULL)) if m.liq > 0 else nan),
            (self.p(P.FW_VOLMCAP),
             clamp(m.window(60) / mcap / self.p(P.VOLMCAP_FULL)) if known_mcap else nan),
        ])  # fmt: skip
        if not math.isnan(ext):
            risk = min(10.0, max(0.0, ext))
        else:
            parts = [clamp(sigma / self.p(P.VOLATILITY_MAX))]
            for kind, full in (
                (SignalKind.TOP3_PCT, self.p(P.RISK_TOP3_FULL)),
                (SignalKind.BOT_LIKE, 1.0),
            ):
                v = sig(kind, nan)
                if not math.isnan(v):
                    parts.append(clamp(v / full))
            risk = 10 * sum(parts) / len(parts)
        w_social = self.p(P.W_SOCIAL_MEME if meme else P.W_SOCIAL_OTHER)
        conf = wmean([
            (self.p(P.W_TECHNICAL), tech),
            (w_social, social),
            (self.p(P.W_FUNDAMENTAL), fund),
            (self.p(P.W_RISK), 1 - risk / 10),
        ])  # fmt: skip
        return {
            OF_PRICE: m.last, OF_OUT_CONF: conf if not math.isnan(conf) else 0.0,
            OF_TECH: tech, OF_SOCIAL: social, OF_FUND: fund, OF_RISKADJ: 1 - risk / 10,
            OF_LIQ: m.liq, OF_VOL5: m.window(5), OF_VOL60: m.window(60), OF_VOLATILITY: sigma,
            OF_MOMENTUM: mom, OF_TREND: trend, OF_RISK_SCORE: risk, OF_SENTIMENT: sen,
            OF_COMMUNITY: com, OF_FLOW: flow, OF_MCAP: mcap, OF_RANGE: rng,
        }  # fmt: skip

    def strong_sell(self, m: Mint, sc: dict[int, float]) -> bool:
        social, tech = sc[OF_SOCIAL], sc[OF_TECH]
        external_risk = m.signals.get(SignalKind.RISK_SCORE, math.nan)
        return (
            (not math.isnan(social) and social <= self.p(P.STRONG_SELL_SOCIAL))
            or (not math.isnan(tech) and tech <= self.p(P.STRONG_SELL_TECHNICAL))
            or external_risk >= self.p(P.STRONG_SELL_RISK)
        )

    def equity(self) -> float:
        eq = float(self.cash)
        for m in self.mints.values():
            if m.position is not None:
                eq += m.position.qty / m.scale * m.last * 1e9
        return eq

    def open_risk(self) -> float:
        r = 0.0
        for m in self.mints.values():
            if m.position is not None and m.position.entry > m.position.stop:
                r += (m.position.entry - m.position.stop) * m.position.qty / m.scale
            elif m.position is None and m.order is not None and m.order.side == 1:
                r += m.order.risk_sol
        return r

    # -------------------------------------------------------------- breakers
    def trip(self, b: Breaker, t: int, mint: int, seq: int, value: float, limit: float) -> None:
        if b in self.breakers:
            return
        self.breakers.add(b)
        self.emit(OutKind.BREAKER_TRIPPED, t, mint, 0, 0, 0, b, 0, 0, 0, 0, 0, seq, value,
                  math.nan, limit, action=BreakerCause.TRIPPED)  # fmt: skip

    def reset(self, t: int, seq: int, cause: BreakerCause) -> None:
        for b in sorted(self.breakers):
            if cause == BreakerCause.NEW_DAY and b == Breaker.EMERGENCY_STOP:
                continue
            self.breakers.discard(b)
            self.emit(OutKind.BREAKER_RESET, t, -1, 0, 0, 0, b, 0, 0, 0, 0, 0, seq, math.nan,
                      math.nan, math.nan, action=cause)  # fmt: skip

    def begin_event(self, t: int, seq: int) -> None:
        """A new UTC day resets the day's counters and every breaker but the emergency stop."""
        day = t // (86400 * 10**9)
        if day != self.day:
            if self.day >= 0:
                self.reset(t, seq, BreakerCause.NEW_DAY)
            self.day = day
            self.day_pnl = self.day_trades = self.consec = 0
            self.day_start_equity = int(self.equity())

    def signal(self, t: int, mint_id: int, kind: int, value: float, seq: int) -> None:
        self.begin_event(t, seq)
        if kind < 16:
            self.mints[mint_id].signals[kind] = value
        elif kind == SignalKind.SOL_USD:
            self.sol_usd = value if 0 < value < math.inf else math.nan
        elif kind == SignalKind.EMERGENCY_STOP and value != 0:
            self.trip(Breaker.EMERGENCY_STOP, t, -1, seq, value, 0.0)
        elif kind == SignalKind.BREAKER_RESET:
            self.reset(t, seq, BreakerCause.MANUAL_RESET)
            self.day_pnl = self.day_trades = self.consec = 0

    def param(self, t: int, index: int, value: float, code: int, seq: int) -> None:
        """A parameter change: applied unless refused (the run's rules via make_params)."""
        self.begin_event(t, seq)
        old = self.params[index]
        if code == 0 and index == P.INITIAL_CASH_SOL:
            code = Refusal.FIXED_AT_START
        if code == 0:
            trial = list(self.params)
            trial[index] = value
            try:
                make_params({p.name.lower(): v for p, v in zip(P, trial, strict=True)})
            except ValueError:
                code = Refusal.CONFLICT
        if code:
            self.emit(OutKind.CONTROL_REFUSED, t, -1, 0, 0, 0, index, 0, 0, 0, 0, 0, seq, value,
                      old, math.nan, action=code, trigger=1)  # type: ignore[arg-type]  # fmt: skip
            return
        self.params[index] = value
        self.emit(OutKind.PARAM_CHANGED, t, -1, 0, 0, 0, index, 0, 0, 0, 0, 0, seq, value, old,
                  math.nan)  # type: ignore[arg-type]  # fmt: skip

    def conditions_header(self, t: int, count: int, code: int, seq: int) -> None:
        """A condition-set change announcing `count` conditions (0: sniper off)."""
        self.begin_event(t, seq)
        self.staged = None
        if code:
            self.emit(OutKind.CONTROL_REFUSED, t, -1, 0, 0, 0, -1, 0, 0, 0, 0, 0, seq, math.nan,
                      math.nan, math.nan, action=code, trigger=2)  # type: ignore[arg-type]  # fmt: skip
            return
        self.staged = (count, [])
        self._maybe_swap(t, seq)

    def condition(self, t: int, packed: int, threshold: float, seq: int) -> None:
        """One condition of the staged set."""
        self.begin_event(t, seq)
        if self.staged is None or len(self.staged[1]) >= self.staged[0]:
            return
        self.staged[1].append((packed // 4, packed % 4, threshold))
        self._maybe_swap(t, seq)

    def _maybe_swap(self, t: int, seq: int) -> None:
        assert self.staged is not None
        count, got = self.staged
        if len(got) < count:
            return
        old = len(self.conditions)
        self.conditions = list(got)
        self.staged = None
        self.emit(OutKind.CONDITIONS_CHANGED, t, -1, 0, 0, 0, 0, count, old, 0, 0, 0, seq,
                  math.nan, math.nan, math.nan)  # type: ignore[arg-type]  # fmt: skip

    def place_sell(
        self,
        mint_id: int,
        m: Mint,
        t: int,
        qty: int,
        reason: Reason,
        seq: int,
        stop: float,
        ctx: dict[int, float] | None = None,
    ) -> None:
        pos = m.position
        assert pos is not None
        self.next_oid += 1
        self.next_did += 1
        did = self.next_did
        m.order = Order(self.next_oid, -1, t, t + self.latency, qty, 0, reason, 0, dec_id=did,
                        placed_seq=seq)  # fmt: skip
        self.emit(OutKind.DECIDED, t, mint_id, 0, pos.pid, -1, reason, qty, 0, 0, 0, 0, seq,
                  m.last, pos.conf, stop, dec_id=did, action=Action.SELL, ctx=ctx)  # fmt: skip
        self.emit(OutKind.ORDER_PLACED, t, mint_id, self.next_oid, pos.pid, -1, reason, qty, 0,
                  0, 0, 0, seq, m.last, pos.conf, stop, dec_id=did)  # fmt: skip

    @property
    def latency(self) -> int:
        return int(self.p(P.LATENCY_MS) * 1e6)

    # ----------------------------------------------------------------- events
    def take_slot(self, mint_id: int) -> None:
        """The lowest free position slot goes to this mint."""
        used = set(self.slot_of.values())
        self.slot_of[mint_id] = min(i for i in range(64) if i not in used)

    def heartbeat(self, t: int, seq: int) -> None:
        """Time stops for open positions, visited in slot order."""
        self.begin_event(t, seq)
        for mint_id, _slot in sorted(self.slot_of.items(), key=lambda kv: kv[1]):
            m = self.mints[mint_id]
            pos = m.position
            if pos is None or m.order is not None:
                continue
            if t - pos.opened >= pos.max_hold:
                self.place_sell(mint_id, m, t, pos.qty, Reason.TIME_STOP, seq, 0.0)

    def tick(self, t: int, mint_id: int, price: float, size: int, liq: float, seq: int) -> None:
        self.begin_event(t, seq)
        m = self.mints[mint_id]
        minute = t // NS_MIN
        if m.ticks == 0:
            m.first_price = price
            m.prev_close = price
            m.first_ts = t
            m.first_min = minute
            m.cur_min = minute
            m.highs[minute] = price
            m.lows[minute] = price
            m.ema_fast = m.ema_slow = price
        elif minute > m.cur_min:
            decay = 0.5 ** (1 / self.p(P.VOL_HALFLIFE_MIN))
            a_fast = 2 / (self.p(P.EMA_FAST_MIN) + 1)
            a_slow = 2 / (self.p(P.EMA_SLOW_MIN) + 1)
            for k in range(m.cur_min, minute):
                c = m.close(k)
                r = math.log(c / m.prev_close) if k == m.cur_min else 0.0
                m.var = decay * m.var + (1 - decay) * r * r
                m.ema_fast += a_fast * (c - m.ema_fast)
                m.ema_slow += a_slow * (c - m.ema_slow)
                if k == m.cur_min:
                    m.prev_close = c
            n = int(self.p(P.BAR_LOOKBACK))
            window = range(max(minute - n, m.first_min), minute)
            m.nbar_high = max((m.high(k) for k in window), default=math.nan)
            m.nbar_low = min((m.low(k) for k in window), default=math.nan)
            m.cur_min = minute
            m.highs[minute] = price
            m.lows[minute] = price
        m.highs[minute] = max(m.highs.get(minute, price), price)
        m.lows[minute] = min(m.lows.get(minute, price), price)
        m.closes[minute] = price
        m.vols[minute] = m.vols.get(minute, 0.0) + price * size / m.scale
        m.last = price
        m.ticks += 1
        m.last_ts = t
        if 0 < liq < math.inf:
            m.liq = liq
        self.fill(mint_id, m, t, price, seq)
        if m.position is not None:
            self.exits(mint_id, m, t, seq)
        else:
            self.entry(mint_id, m, t, price, seq)

    def fill(self, mint_id: int, m: Mint, t: int, p: float, seq: int) -> None:
        o = m.order
        if o is None or o.due > t or (o.placed == t and o.placed_seq == seq):
            return
        known = m.liq > 0
        fee_bps = self.p(P.DEX_FEE_BPS)
        nf = self.netfee
        if o.side == 1:
            fee = int(o.spend * fee_bps / 10_000)
            net = o.spend - fee
            net_sol = net / 1e9
            impact = net_sol / (m.liq + net_sol) if known else self.p(P.FIXED_SLIPPAGE_BPS) / 1e4
            tokens = math.floor(net_sol / p * (1 - impact) * m.scale)
            slip_bad = impact * 1e4 > self.p(P.ENTRY_MAX_SLIPPAGE_BPS)
            if slip_bad or not 1 <= tokens < 9.0e18:
                why = Reason.REJECT_SLIPPAGE if slip_bad else Reason.REJECT_SIZE
                self.reserved -= o.reserved
                self.used -= 1
                del self.slot_of[mint_id]
                m.order = None
                self.emit(
                    OutKind.ORDER_REJECTED,
                    t,
                    mint_id,
                    o.oid,
                    0,
                    1,
                    why,
                    0,
                    o.spend,
                    0,
                    0,
                    0,
                    seq,
                    p,
                    impact,
                    0.0,
                    dec_id=o.dec_id,
                )
                return
            price = net_sol / (tokens / m.scale)
            self.cash -= o.spend + nf
            self.reserved -= o.spend + nf
            self.next_pid += 1
            stop = price * (1 - o.stop_frac)
            m.position = Position(
                self.next_pid,
                tokens,
                tokens,
                t,
                price,
                stop,
                price,
                o.conf > self.p(P.TRAILING_MIN_CONFIDENCE),
                m.window(60),
                o.conf,
                o.spend + nf,
                fee_reserve=o.reserved - o.spend - nf,
                max_hold=o.max_hold,
                dec_id=o.dec_id,
            )
            m.order = None
            self.emit(
                OutKind.ORDER_FILLED,
                t,
                mint_id,
                o.oid,
                self.next_pid,
                1,
                o.reason,
                tokens,
                o.spend,
                fee,
                nf,
                int(net * impact),
                seq,
                price,
                impact,
                stop,
                dec_id=o.dec_id,
            )
            self.emit(
                OutKind.POSITION_OPENED,
                t,
                mint_id,
                o.oid,
                self.next_pid,
                1,
                o.reason,
                tokens,
                o.spend + nf,
                0,
                0,
                0,
                seq,
                price,
                o.conf,
                stop,
                dec_id=o.dec_id,
            )
            if impact > self.p(P.MAX_SLIPPAGE_PCT):
                self.trip(Breaker.SLIPPAGE, t, mint_id, seq, impact, self.p(P.MAX_SLIPPAGE_PCT))
            return
        pos = m.position
        assert pos is not None
        qty = min(o.qty, pos.qty)
        value = qty / m.scale * p
        impact = value / (m.liq + value) if known else self.p(P.FIXED_SLIPPAGE_BPS) / 1e4
        slip_bad = impact * 1e4 > self.p(P.EXIT_MAX_SLIPPAGE_BPS)
        if slip_bad or value * 1e9 >= 9.0e18:
            why = Reason.REJECT_SLIPPAGE if slip_bad else Reason.REJECT_SIZE
            self.emit(
                OutKind.ORDER_REJECTED,
                t,
                mint_id,
                o.oid,
                pos.pid,
                -1,
                why,
                qty,
                0,
                0,
                0,
                0,
                seq,
                p,
                impact,
                0.0,
                dec_id=o.dec_id,
            )
            self.next_oid += 1
            o.oid, o.placed, o.due, o.placed_seq = self.next_oid, t, t + self.latency, seq
            self.emit(
                OutKind.ORDER_PLACED,
                t,
                mint_id,
                o.oid,
                pos.pid,
                -1,
                o.reason,
                qty,
                0,
                0,
                0,
                0,
                seq,
                p,
                pos.conf,
                0.0,
                dec_id=o.dec_id,
            )
            return
        gross = math.floor(value * (1 - impact) * 1e9)
        fee = int(gross * fee_bps / 10_000)
        recv = gross - fee
        paid = min(nf, pos.fee_reserve)
        pos.fee_reserve -= paid
        self.reserved -= paid
        self.cash += recv - nf
        pos.qty -= qty
        pos.proceeds += recv - nf
        if o.reason == Reason.TARGET_1:
            pos.hit = 1
            pos.stop = max(pos.stop, pos.entry)
        elif o.reason == Reason.TARGET_2:
            pos.hit = 2
            pos.stop = max(pos.stop, pos.entry * (1 + self.p(P.TP1)))
        elif o.reason == Reason.TARGET_3:
            pos.hit = 3
        m.order = None
        px = p * (1 - impact)
        self.emit(
            OutKind.ORDER_FILLED,
            t,
            mint_id,
            o.oid,
            pos.pid,
            -1,
            o.reason,
            qty,
            recv,
            fee,
            nf,
            int(value * 1e9) - gross,
            seq,
            px,
            impact,
            pos.stop,
            dec_id=o.dec_id,
        )
        if impact > self.p(P.MAX_SLIPPAGE_PCT):
            self.trip(Breaker.SLIPPAGE, t, mint_id, seq, impact, self.p(P.MAX_SLIPPAGE_PCT))
        if pos.qty == 0:
            self.reserved -= pos.fee_reserve
            self.used -= 1
            del self.slot_of[mint_id]
            m.position = None
            m.cooldown_until = t + int(self.p(P.REENTRY_COOLDOWN_S) * 1e9)
            self.emit(
                OutKind.POSITION_CLOSED,
                t,
                mint_id,
                o.oid,
                pos.pid,
                -1,
                o.reason,
                pos.qty0,
                pos.proceeds - pos.cost,
                0,
                0,
                0,
                seq,
                px,
                pos.conf,
                pos.entry,
                dec_id=pos.dec_id,
            )
            pnl = pos.proceeds - pos.cost
            self.day_pnl += pnl
            self.consec = self.consec + 1 if pnl < 0 else 0
            if self.consec >= self.p(P.MAX_CONSECUTIVE_LOSSES):
                self.trip(Breaker.CONSECUTIVE_LOSSES, t, mint_id, seq, self.consec,
                          self.p(P.MAX_CONSECUTIVE_LOSSES))  # fmt: skip
            loss = -self.day_pnl / 1e9
            if loss > self.p(P.MAX_DAILY_LOSS_SOL):
                self.trip(Breaker.DAILY_LOSS_SOL, t, mint_id, seq, loss,
                          self.p(P.MAX_DAILY_LOSS_SOL))  # fmt: skip
            limit = self.p(P.MAX_DAILY_LOSS_PCT) * self.day_start_equity / 1e9
            if loss > limit:
                self.trip(Breaker.DAILY_LOSS_PCT, t, mint_id, seq, loss, limit)

    def exits(self, mint_id: int, m: Mint, t: int, seq: int) -> None:
        pos = m.position
        assert pos is not None
        p = m.last
        if pos.trailing:
            pos.trail_high = max(pos.trail_high, p)
        if m.order is not None:
            return
        sell, why = pos.qty, None
        tps = [self.p(P.TP1), self.p(P.TP2), self.p(P.TP3)]
        fracs = [self.p(P.TP1_FRAC), self.p(P.TP2_FRAC)]
        if p <= pos.stop:
            why = Reason.STOP_LOSS
        elif pos.trailing and p <= pos.trail_high * (1 - self.p(P.TRAILING_PCT)):
            why = Reason.TRAILING_STOP
        elif pos.hit < 3 and p >= pos.entry * (1 + tps[pos.hit]):
            why = (Reason.TARGET_1, Reason.TARGET_2, Reason.TARGET_3)[pos.hit]
            if pos.hit < 2:
                sell = min(pos.qty, int(pos.qty0 * fracs[pos.hit]))
        elif t - pos.opened >= pos.max_hold:
            why = Reason.TIME_STOP
        elif pos.entry_vol60 > 0 and m.window(60) < self.p(P.VOLUME_DEATH_RATIO) * pos.entry_vol60:
            why = Reason.VOLUME_DEATH
        else:
            sc = self.scores(m, t)
            if self.strong_sell(m, sc):
                self.place_sell(mint_id, m, t, pos.qty, Reason.SENTIMENT_FLIP, seq, pos.stop, sc)
            return
        if why in (Reason.TARGET_1, Reason.TARGET_2) and sell == 0:
            pos.hit += 1
            bump = pos.entry if why == Reason.TARGET_1 else pos.entry * (1 + tps[0])
            pos.stop = max(pos.stop, bump)
            return
        self.place_sell(mint_id, m, t, sell, why, seq, pos.stop)

    def entry(self, mint_id: int, m: Mint, t: int, p: float, seq: int) -> None:
        if not self.conditions or m.order is not None or t < m.cooldown_until:
            return
        min_need = int(self.p(P.MIN_ORDER_SOL) * 1e9) + 4 * self.netfee
        if (
            self.used >= self.p(P.MAX_POSITIONS)
            or self.breakers
            or self.cash - self.reserved < min_need
        ):
            return  # nothing can be bought: the sniper does not ask
        for fid, op, thr in self.conditions:
            v = self.feature(fid, m, t)
            ok = (v > thr, v >= thr, v < thr, v <= thr)[op]
            if not ok:
                return
        self.decide(mint_id, m, t, p, seq)

    def decide(self, mint_id: int, m: Mint, t: int, p: float, seq: int) -> None:
        sc = self.scores(m, t)
        conf = sc[OF_OUT_CONF]
        liq = m.liq if m.liq > 0 else 0.0
        up = sc[OF_TREND] > 1e-9 or self.p(P.REQUIRE_TREND_UP) < 0.5  # flat below 1e-9
        liq_ok = liq > self.min_liquidity()
        if self.strong_sell(m, sc):
            action, reason = Action.SELL, Reason.STRONG_SELL
        elif conf >= self.p(P.MIN_BUY_CONFIDENCE) and up and liq_ok:
            action, reason = Action.BUY, Reason.ENTRY_CONDITIONS
        elif conf >= self.p(P.HOLD_CONFIDENCE):
            action, reason = Action.HOLD, Reason.HOLD_ZONE
            if conf >= self.p(P.MIN_BUY_CONFIDENCE):
                reason = Reason.TREND_NOT_UP if not up else Reason.LOW_LIQUIDITY
        else:
            action, reason = Action.SKIP, Reason.LOW_CONFIDENCE
        frac = min(
            self.p(P.STOP_LOSS) * (1 + self.p(P.VOL_SCALE) * math.sqrt(m.var)), self.p(P.STOP_CAP)
        )
        meme = self.is_meme(m)
        max_hold = self.p(P.TIME_STOP_S if meme else P.TIME_STOP_OTHER_S)
        size = (
            self.p(P.MIN_POSITION_SOL) * conf / self.p(P.SIZE_REF_CONFIDENCE)
            * max(0.5, (10 - sc[OF_RISK_SCORE]) / 10)
        )  # fmt: skip
        if liq > 0:
            size = min(size, self.p(P.LIQ_CAP_PCT) * liq)
        size = min(size, self.p(P.MAX_POSITION_SOL))
        nf = self.netfee
        if action == Action.BUY:
            equity = self.equity() / 1e9
            risk = self.open_risk()
            capped = False
            if self.breakers:
                action, reason = Action.SKIP, Reason.BREAKER_ACTIVE
            elif self.used >= self.p(P.MAX_POSITIONS):
                action, reason = Action.SKIP, Reason.MAX_POSITIONS
            else:
                budget = self.p(P.MAX_PORTFOLIO_RISK) * equity - risk
                if frac > 0 and size * frac > budget:
                    size, capped = max(budget, 0.0) / frac, True
                if size < self.p(P.MIN_ORDER_SOL):
                    action = Action.SKIP
                    reason = Reason.PORTFOLIO_RISK if capped else Reason.SIZE_TOO_SMALL
            if action == Action.BUY and self.cash - self.reserved < math.floor(size * 1e9) + 4 * nf:
                action, reason = Action.SKIP, Reason.NO_CASH
            if equity > 0:
                sc[OF_PORT_RISK] = (risk + (size * frac if action == Action.BUY else 0.0)) / equity
        sc[OF_SIZE_SOL] = size
        for col, tp in ((OF_TP1, P.TP1), (OF_TP2, P.TP2), (OF_TP3, P.TP3)):
            sc[col] = p * (1 + self.p(tp))
        trailing = int(conf > self.p(P.TRAILING_MIN_CONFIDENCE))
        stop = p * (1 - frac)
        extra = {"trigger": 1, "max_hold_s": int(max_hold), "trailing": trailing, "ctx": sc}
        if action != Action.BUY:
            if t < m.log_after:
                return
            m.log_after = t + int(self.p(P.DECISION_LOG_INTERVAL_S) * 1e9)
            self.next_did += 1
            side = -1 if action == Action.SELL else 0
            self.emit(OutKind.DECIDED, t, mint_id, 0, 0, side, reason, 0, int(size * 1e9), 0, 0,
                      0, seq, p, conf, stop, dec_id=self.next_did, action=action,
                      **extra)  # type: ignore[arg-type]  # fmt: skip
            return
        spend = math.floor(size * 1e9)
        need = spend + 4 * nf
        self.next_oid += 1
        self.next_did += 1
        m.order = Order(self.next_oid, 1, t, t + self.latency, 0, spend, Reason.ENTRY_CONDITIONS,
                        need, frac, conf, dec_id=self.next_did, max_hold=int(max_hold * 1e9),
                        risk_sol=size * frac, placed_seq=seq)  # fmt: skip
        self.reserved += need
        self.used += 1
        self.take_slot(mint_id)
        self.emit(OutKind.DECIDED, t, mint_id, 0, 0, 1, reason, 0, spend, 0, 0, 0, seq, p, conf,
                  stop, dec_id=self.next_did, action=action, **extra)  # type: ignore[arg-type]  # fmt: skip
        self.emit(OutKind.ORDER_PLACED, t, mint_id, self.next_oid, 0, 1, reason, 0, spend, 0, 0,
                  0, seq, p, conf, stop, dec_id=self.next_did)  # fmt: skip
        self.day_trades += 1
        if self.day_trades >= self.p(P.MAX_DAILY_TRADES):
            self.trip(Breaker.DAILY_TRADES, t, mint_id, seq, self.day_trades,
                      self.p(P.MAX_DAILY_TRADES))  # fmt: skip
