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

from engine.events import OutKind, Reason
from engine.params import P

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
    vols: dict[int, float] = field(default_factory=dict)
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
    out: list[tuple] = field(default_factory=list)
    mints: dict[int, Mint] = field(default_factory=dict)
    slot_of: dict[int, int] = field(default_factory=dict)
    """Position slot held by each mint with an open position or a pending entry."""

    def __post_init__(self) -> None:
        self.cash = round(self.params[P.INITIAL_CASH_SOL] * 1e9)
        self.mints = {i: Mint(s) for i, s in enumerate(self.scales)}

    # --------------------------------------------------------------- helpers
    def p(self, k: P) -> float:
        return self.params[k]

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
    ) -> None:
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
                price,
                conf,
                stop,
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
        return m.signals.get(fid - 16, math.nan)

    def place_sell(
        self, mint_id: int, m: Mint, t: int, qty: int, reason: Reason, seq: int, stop: float
    ) -> None:
        pos = m.position
        assert pos is not None
        self.next_oid += 1
        m.order = Order(self.next_oid, -1, t, t + self.latency, qty, 0, reason, 0)
        self.emit(
            OutKind.DECIDED,
            t,
            mint_id,
            0,
            pos.pid,
            -1,
            reason,
            qty,
            0,
            0,
            0,
            0,
            seq,
            m.last,
            pos.conf,
            stop,
        )
        self.emit(
            OutKind.ORDER_PLACED,
            t,
            mint_id,
            self.next_oid,
            pos.pid,
            -1,
            reason,
            qty,
            0,
            0,
            0,
            0,
            seq,
            m.last,
            pos.conf,
            stop,
        )

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
        for mint_id, _slot in sorted(self.slot_of.items(), key=lambda kv: kv[1]):
            m = self.mints[mint_id]
            pos = m.position
            if pos is None or m.order is not None:
                continue
            if t - pos.opened >= int(self.p(P.TIME_STOP_S) * 1e9):
                self.place_sell(mint_id, m, t, pos.qty, Reason.TIME_STOP, seq, 0.0)

    def tick(self, t: int, mint_id: int, price: float, size: int, liq: float, seq: int) -> None:
        m = self.mints[mint_id]
        minute = t // NS_MIN
        if m.ticks == 0:
            m.first_price = price
            m.prev_close = price
            m.first_ts = t
            m.first_min = minute
            m.cur_min = minute
            m.highs[minute] = price
        elif minute > m.cur_min:
            decay = 0.5 ** (1 / self.p(P.VOL_HALFLIFE_MIN))
            for k in range(m.cur_min, minute):
                c = m.close(k)
                r = math.log(c / m.prev_close) if k == m.cur_min else 0.0
                m.var = decay * m.var + (1 - decay) * r * r
                if k == m.cur_min:
                    m.prev_close = c
            n = int(self.p(P.BAR_LOOKBACK))
            highs = [m.high(k) for k in range(max(minute - n, m.first_min), minute)]
            m.nbar_high = max(highs) if highs else math.nan
            m.cur_min = minute
            m.highs[minute] = price
        m.highs[minute] = max(m.highs.get(minute, price), price)
        m.closes[minute] = price
        m.vols[minute] = m.vols.get(minute, 0.0) + price * size / m.scale
        m.last = price
        m.ticks += 1
        if 0 < liq < math.inf:
            m.liq = liq
        self.fill(mint_id, m, t, price, seq)
        if m.position is not None:
            self.exits(mint_id, m, t, seq)
        else:
            self.entry(mint_id, m, t, price, seq)

    def fill(self, mint_id: int, m: Mint, t: int, p: float, seq: int) -> None:
        o = m.order
        if o is None or o.due > t:
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
            )
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
            )
            self.next_oid += 1
            o.oid, o.placed, o.due = self.next_oid, t, t + self.latency
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
        )
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
            )

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
        elif t - pos.opened >= int(self.p(P.TIME_STOP_S) * 1e9):
            why = Reason.TIME_STOP
        elif pos.entry_vol60 > 0 and m.window(60) < self.p(P.VOLUME_DEATH_RATIO) * pos.entry_vol60:
            why = Reason.VOLUME_DEATH
        if why is None:
            return
        if why in (Reason.TARGET_1, Reason.TARGET_2) and sell == 0:
            pos.hit += 1
            bump = pos.entry if why == Reason.TARGET_1 else pos.entry * (1 + tps[0])
            pos.stop = max(pos.stop, bump)
            return
        self.place_sell(mint_id, m, t, sell, why, seq, pos.stop)

    def entry(self, mint_id: int, m: Mint, t: int, p: float, seq: int) -> None:
        nf = self.netfee
        spend = int(self.p(P.POSITION_SOL) * 1e9)
        need = spend + 4 * nf
        if (
            not self.conditions
            or m.order is not None
            or t < m.cooldown_until
            or self.used >= self.p(P.MAX_POSITIONS)
            or self.cash - self.reserved < need
        ):
            return
        for fid, op, thr in self.conditions:
            v = self.feature(fid, m, t)
            ok = (v > thr, v >= thr, v < thr, v <= thr)[op]
            if not ok:
                return
        frac = min(
            self.p(P.STOP_LOSS) * (1 + self.p(P.VOL_SCALE) * math.sqrt(m.var)), self.p(P.STOP_CAP)
        )
        conf = self.p(P.ENTRY_CONFIDENCE)
        self.next_oid += 1
        m.order = Order(
            self.next_oid,
            1,
            t,
            t + self.latency,
            0,
            spend,
            Reason.ENTRY_CONDITIONS,
            need,
            frac,
            conf,
        )
        self.reserved += need
        self.used += 1
        self.take_slot(mint_id)
        stop = p * (1 - frac)
        self.emit(
            OutKind.DECIDED,
            t,
            mint_id,
            0,
            0,
            1,
            Reason.ENTRY_CONDITIONS,
            0,
            spend,
            0,
            0,
            0,
            seq,
            p,
            conf,
            stop,
        )
        self.emit(
            OutKind.ORDER_PLACED,
            t,
            mint_id,
            self.next_oid,
            0,
            1,
            Reason.ENTRY_CONDITIONS,
            0,
            spend,
            0,
            0,
            0,
            seq,
            p,
            conf,
            stop,
        )
