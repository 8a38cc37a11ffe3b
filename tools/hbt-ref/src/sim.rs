//! The backtest itself: hftbacktest's processors built by hand (so the local
//! side can be wrapped), the "touch" rule as the bot, and a ledger of our
//! fills taken from every order response.
//!
//! Why a ledger of our own: hftbacktest 0.9.4's local processor applies a
//! response to its [`StateValues`] only when the response says `Filled`
//! (`Local::process_recv_order_`), so under the partial-fill exchange the
//! pieces reported as `PartiallyFilled` never reach the local position,
//! balance or fee. The ledger counts every piece (a response whose
//! `leaves_qty` went down); under the no-partial-fill exchange it and
//! hftbacktest's own state agree, and the result carries both.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use hftbacktest::backtest::assettype::LinearAsset;
use hftbacktest::backtest::data::{Data, DataSource, Reader};
use hftbacktest::backtest::models::{
    CommonFees, ConstantLatency, PowerProbQueueFunc3, ProbQueueModel, RiskAdverseQueueModel,
    TradingValueFeeModel,
};
use hftbacktest::backtest::order::order_bus;
use hftbacktest::backtest::proc::{
    Local, LocalProcessor, NoPartialFillExchange, PartialFillExchange, Processor,
};
use hftbacktest::backtest::state::State;
use hftbacktest::backtest::{Backtest, BacktestError};
use hftbacktest::depth::{HashMapMarketDepth, MarketDepth, INVALID_MAX, INVALID_MIN};
use hftbacktest::types::{
    Bot, ElapseResult, Event, OrdType, Order, OrderId, Side, StateValues, Status, TimeInForce,
};

use crate::convert::Recording;
use crate::{ExchangeModel, HbtState, QueueModel, RefParams, RefResult, Replace};

type Md = HashMapMarketDepth;
type Fees = TradingValueFeeModel<CommonFees>;
type Inner = Local<LinearAsset, ConstantLatency, Md, Fees>;

/// How long one `wait_next_feed` may wait for a feed or a response (ns).
const WAIT_TIMEOUT_NS: i64 = 3_600_000_000_000;

/// Our fills and order outcomes, from the local side's order responses.
#[derive(Debug, Default)]
struct Ledger {
    lot: f64,
    maker_fee: f64,
    taker_fee: f64,
    /// Leaves quantity per live order, as last reported.
    leaves: HashMap<OrderId, f64>,
    fills: u64,
    buy_fills: u64,
    sell_fills: u64,
    maker_fills: u64,
    taker_fills: u64,
    bought_lots: i64,
    sold_lots: i64,
    /// Quote currency: + sells, − buys (fees apart).
    cash: f64,
    fees: f64,
    traded_value: f64,
    post_only_rejects: u64,
    cancels_confirmed: u64,
    requests_rejected: u64,
}

impl Ledger {
    fn position_lots(&self) -> i64 {
        self.bought_lots - self.sold_lots
    }

    fn on_submit(&mut self, id: OrderId, qty: f64) {
        self.leaves.insert(id, qty);
    }

    /// One order response as the local side receives it.
    fn on_response(&mut self, o: &Order) {
        if o.req == Status::Rejected {
            // A cancel or modify that reached the exchange after the order
            // was gone (filled): nothing changed.
            self.requests_rejected += 1;
            return;
        }
        let Some(&prev) = self.leaves.get(&o.order_id) else {
            return;
        };
        match o.status {
            Status::Filled | Status::PartiallyFilled
                if o.leaves_qty < prev - 0.5 * self.lot && o.exec_qty > 0.0 =>
            {
                let lots = (o.exec_qty / self.lot).round() as i64;
                let qty = lots as f64 * self.lot;
                let value = o.exec_price() * qty;
                self.fills += 1;
                match o.side {
                    Side::Buy => {
                        self.buy_fills += 1;
                        self.bought_lots += lots;
                        self.cash -= value;
                    }
                    _ => {
                        self.sell_fills += 1;
                        self.sold_lots += lots;
                        self.cash += value;
                    }
                }
                if o.maker {
                    self.maker_fills += 1;
                    self.fees += self.maker_fee * value;
                } else {
                    self.taker_fills += 1;
                    self.fees += self.taker_fee * value;
                }
                self.traded_value += value;
            }
            Status::Expired => self.post_only_rejects += 1,
            Status::Canceled => self.cancels_confirmed += 1,
            _ => {}
        }
        if matches!(
            o.status,
            Status::Filled | Status::Canceled | Status::Expired
        ) {
            self.leaves.remove(&o.order_id);
        } else {
            self.leaves.insert(o.order_id, o.leaves_qty);
        }
    }
}

/// hftbacktest's [`Local`] with every order response also given to the
/// [`Ledger`] (the crate's own hook, `process_recv_order_::<true, _>`).
struct RecordingLocal {
    inner: Inner,
    ledger: Rc<RefCell<Ledger>>,
}

impl LocalProcessor<Md> for RecordingLocal {
    fn submit_order(
        &mut self,
        order_id: OrderId,
        side: Side,
        price: f64,
        qty: f64,
        order_type: OrdType,
        time_in_force: TimeInForce,
        current_timestamp: i64,
    ) -> Result<(), BacktestError> {
        self.inner.submit_order(
            order_id,
            side,
            price,
            qty,
            order_type,
            time_in_force,
            current_timestamp,
        )
    }

    fn modify(
        &mut self,
        order_id: OrderId,
        price: f64,
        qty: f64,
        current_timestamp: i64,
    ) -> Result<(), BacktestError> {
        self.inner.modify(order_id, price, qty, current_timestamp)
    }

    fn cancel(&mut self, order_id: OrderId, current_timestamp: i64) -> Result<(), BacktestError> {
        self.inner.cancel(order_id, current_timestamp)
    }

    fn clear_inactive_orders(&mut self) {
        self.inner.clear_inactive_orders()
    }

    fn position(&self) -> f64 {
        self.inner.position()
    }

    fn state_values(&self) -> &StateValues {
        self.inner.state_values()
    }

    fn depth(&self) -> &Md {
        self.inner.depth()
    }

    fn orders(&self) -> &HashMap<OrderId, Order> {
        self.inner.orders()
    }

    fn last_trades(&self) -> &[Event] {
        self.inner.last_trades()
    }

    fn clear_last_trades(&mut self) {
        self.inner.clear_last_trades()
    }

    fn feed_latency(&self) -> Option<(i64, i64)> {
        self.inner.feed_latency()
    }

    fn order_latency(&self) -> Option<(i64, i64, i64)> {
        self.inner.order_latency()
    }
}

impl Processor for RecordingLocal {
    fn event_seen_timestamp(&self, event: &Event) -> Option<i64> {
        self.inner.event_seen_timestamp(event)
    }

    fn process(&mut self, event: &Event) -> Result<(), BacktestError> {
        self.inner.process(event)
    }

    fn process_recv_order(
        &mut self,
        timestamp: i64,
        wait_resp_order_id: Option<OrderId>,
    ) -> Result<bool, BacktestError> {
        let ledger = &self.ledger;
        self.inner
            .process_recv_order_::<true, _>(timestamp, wait_resp_order_id, |o| {
                ledger.borrow_mut().on_response(o)
            })
    }

    fn earliest_recv_order_timestamp(&self) -> i64 {
        self.inner.earliest_recv_order_timestamp()
    }

    fn earliest_send_order_timestamp(&self) -> i64 {
        self.inner.earliest_send_order_timestamp()
    }
}

/// The "touch" rule: one GTX order per side at the recorded best bid / ask.
struct Touch {
    tick: f64,
    qty: f64,
    max_lots: i64,
    replace: Replace,
    /// Our working order per side: 0 = bid, 1 = ask.
    slot: [Option<OrderId>; 2],
    next_id: OrderId,
    submitted: u64,
    modifies: u64,
    cancels: u64,
    last_mid: Option<f64>,
    ledger: Rc<RefCell<Ledger>>,
}

impl Touch {
    /// One decision on the current local book and position.
    fn step(&mut self, hbt: &mut Backtest<Md>) -> Result<(), BacktestError> {
        let d = hbt.depth(0);
        let (bb, ba) = (d.best_bid_tick(), d.best_ask_tick());
        let valid = bb != INVALID_MIN && ba != INVALID_MAX && bb < ba;
        if valid {
            self.last_mid = Some((bb + ba) as f64 * 0.5 * self.tick);
        }
        let pos = self.ledger.borrow().position_lots();
        let bid = (valid && pos < self.max_lots).then_some(bb);
        let ask = (valid && pos > -self.max_lots).then_some(ba);
        self.side(hbt, 0, bid)?;
        self.side(hbt, 1, ask)?;
        hbt.clear_inactive_orders(Some(0));
        Ok(())
    }

    fn side(
        &mut self,
        hbt: &mut Backtest<Md>,
        k: usize,
        target: Option<i64>,
    ) -> Result<(), BacktestError> {
        if let Some(id) = self.slot[k] {
            let seen = hbt
                .orders(0)
                .get(&id)
                .map(|o| (o.req, o.active(), o.price_tick, o.qty));
            match seen {
                // A request (new, cancel, modify) is in flight: wait for it.
                Some((req, ..)) if req != Status::None => return Ok(()),
                Some((_, true, price_tick, qty)) => {
                    if target == Some(price_tick) {
                        return Ok(());
                    }
                    match (target, self.replace) {
                        (Some(t), Replace::Modify) => {
                            hbt.modify(0, id, t as f64 * self.tick, qty, false)?;
                            self.modifies += 1;
                        }
                        _ => {
                            hbt.cancel(0, id, false)?;
                            self.cancels += 1;
                        }
                    }
                    return Ok(());
                }
                // Filled, cancelled or expired (post-only reject): gone.
                _ => self.slot[k] = None,
            }
        }
        if let Some(t) = target {
            let id = self.next_id;
            self.next_id += 1;
            let px = t as f64 * self.tick;
            let (tif, ty) = (TimeInForce::GTX, OrdType::Limit);
            if k == 0 {
                hbt.submit_buy_order(0, id, px, self.qty, tif, ty, false)?;
            } else {
                hbt.submit_sell_order(0, id, px, self.qty, tif, ty, false)?;
            }
            self.ledger.borrow_mut().on_submit(id, self.qty);
            self.submitted += 1;
            self.slot[k] = Some(id);
        }
        Ok(())
    }
}

fn exchange(
    p: &RefParams,
    e2l: hftbacktest::backtest::order::ExchToLocal<ConstantLatency>,
) -> Box<dyn Processor> {
    let fees = || TradingValueFeeModel::new(CommonFees::new(p.maker_fee, p.taker_fee));
    let state = || State::new(LinearAsset::new(1.0), fees());
    let depth = || HashMapMarketDepth::new(p.tick, p.lot);
    match (p.exchange, p.queue) {
        (ExchangeModel::NoPartialFill, QueueModel::RiskAverse) => Box::new(
            NoPartialFillExchange::new(depth(), state(), RiskAdverseQueueModel::<Md>::new(), e2l),
        ),
        (ExchangeModel::NoPartialFill, QueueModel::PowerProb3 { n }) => {
            Box::new(NoPartialFillExchange::new(
                depth(),
                state(),
                ProbQueueModel::<_, Md>::new(PowerProbQueueFunc3::new(n)),
                e2l,
            ))
        }
        (ExchangeModel::PartialFill, QueueModel::RiskAverse) => Box::new(PartialFillExchange::new(
            depth(),
            state(),
            RiskAdverseQueueModel::<Md>::new(),
            e2l,
        )),
        (ExchangeModel::PartialFill, QueueModel::PowerProb3 { n }) => {
            Box::new(PartialFillExchange::new(
                depth(),
                state(),
                ProbQueueModel::<_, Md>::new(PowerProbQueueFunc3::new(n)),
                e2l,
            ))
        }
    }
}

/// Number of decimals of `step` (up to 12).
fn decimals(step: f64) -> usize {
    (0..=12)
        .find(|&d| {
            let x = step * 10f64.powi(d as i32);
            (x - x.round()).abs() < 1e-6
        })
        .unwrap_or(12)
}

/// `x` as the nearest double of its `d`-decimal rounding (clean JSON).
fn round_to(x: f64, d: usize) -> f64 {
    format!("{x:.d$}").parse().unwrap_or(x)
}

/// Runs the touch rule over a converted recording (see [`crate::run_events`]).
pub(crate) fn run(rec: &Recording, p: &RefParams) -> Result<RefResult, String> {
    p.validate()?;
    let err = |e: BacktestError| format!("hftbacktest: {e}");

    let t_build = Instant::now();
    let reader = Reader::builder()
        .parallel_load(false)
        .data(vec![DataSource::Data(Data::from_data(&rec.events))])
        .build()
        .map_err(|e| format!("hftbacktest reader: {e}"))?;
    let latency = ConstantLatency::new(p.entry_latency_ns, p.response_latency_ns);
    let (e2l, l2e) = order_bus(latency);
    let ledger = Rc::new(RefCell::new(Ledger {
        lot: p.lot,
        maker_fee: p.maker_fee,
        taker_fee: p.taker_fee,
        ..Ledger::default()
    }));
    let local = RecordingLocal {
        inner: Local::new(
            HashMapMarketDepth::new(p.tick, p.lot),
            State::new(
                LinearAsset::new(1.0),
                TradingValueFeeModel::new(CommonFees::new(p.maker_fee, p.taker_fee)),
            ),
            0,
            l2e,
        ),
        ledger: Rc::clone(&ledger),
    };
    let mut hbt = Backtest::new(vec![Box::new(local)], vec![exchange(p, e2l)], vec![reader]);
    let build_s = t_build.elapsed().as_secs_f64();

    let mut bot = Touch {
        tick: p.tick,
        qty: (p.qty / p.lot).round() * p.lot,
        max_lots: (p.max_position / p.lot).round() as i64,
        replace: p.replace,
        slot: [None, None],
        next_id: 1,
        submitted: 0,
        modifies: 0,
        cancels: 0,
        last_mid: None,
        ledger: Rc::clone(&ledger),
    };
    let (mut feed_wakeups, mut response_wakeups) = (0u64, 0u64);
    let t_run = Instant::now();
    loop {
        match hbt.wait_next_feed(true, WAIT_TIMEOUT_NS).map_err(err)? {
            ElapseResult::EndOfData => break,
            ElapseResult::MarketFeed => feed_wakeups += 1,
            ElapseResult::OrderResponse => response_wakeups += 1,
            ElapseResult::Ok => continue, // the timeout: nothing seen
        }
        bot.step(&mut hbt).map_err(err)?;
    }
    let run_s = t_run.elapsed().as_secs_f64();

    let d = hbt.depth(0);
    let (bb, ba) = (d.best_bid_tick(), d.best_ask_tick());
    let mid = if bb != INVALID_MIN && ba != INVALID_MAX && bb < ba {
        Some((bb + ba) as f64 * 0.5 * p.tick)
    } else {
        bot.last_mid
    }
    .map(|m| round_to(m, decimals(p.tick) + 1));
    let sv = hbt.state_values(0).clone();
    let l = ledger.borrow();
    let qd = decimals(p.lot);
    let pos = round_to(l.position_lots() as f64 * p.lot, qd);
    let pnl = l.cash + pos * mid.unwrap_or(0.0);
    Ok(RefResult {
        engine: "hftbacktest 0.9.4",
        symbol: rec.symbol.clone(),
        exchange_model: p.exchange.name(),
        queue_model: p.queue.name(),
        replace: p.replace.name(),
        fills: l.fills,
        buy_fills: l.buy_fills,
        sell_fills: l.sell_fills,
        maker_fills: l.maker_fills,
        taker_fills: l.taker_fills,
        bought_qty: round_to(l.bought_lots as f64 * p.lot, qd),
        sold_qty: round_to(l.sold_lots as f64 * p.lot, qd),
        final_position: pos,
        last_mid: mid,
        pnl,
        fees: l.fees,
        net_pnl: pnl - l.fees,
        traded_value: l.traded_value,
        orders_submitted: bot.submitted,
        modifies: bot.modifies,
        cancels: bot.cancels,
        post_only_rejects: l.post_only_rejects,
        cancels_confirmed: l.cancels_confirmed,
        requests_rejected: l.requests_rejected,
        messages: rec.messages,
        market_events: rec.book_messages + rec.trades,
        events: rec.events.len(),
        raw_rows: rec.raw_rows,
        feed_wakeups,
        response_wakeups,
        feed_offset_ns: rec.offset_ns,
        local_shift_ns: rec.local_shift_ns,
        convert_s: 0.0,
        build_s,
        run_s,
        hbt_state: HbtState {
            position: sv.position,
            balance: sv.balance,
            fee: sv.fee,
            num_trades: sv.num_trades,
            trading_volume: sv.trading_volume,
            trading_value: sv.trading_value,
            equity: mid.map(|m| sv.balance + sv.position * m - sv.fee),
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::convert::convert_reader;
    use crate::{run_events, ExchangeModel, RefParams};

    /// Book 1.000 × 5 / 1.002 × 5; then a taker sells `sell` at 1.000 (our
    /// bid's level) and a taker buys 6 at 1.002 (our ask's level). Local
    /// times are 5 ms after the exchange's (offset > 0: no shift).
    fn tape(sell: &str, extra: &str) -> String {
        format!(
            concat!(
                r#"1005000000 {{"topic":"orderbook.200.XUSDT","type":"snapshot","ts":1000,"data":{{"s":"XUSDT","b":[["1.000","5"]],"a":[["1.002","5"]],"u":1}}}}"#,
                "\n",
                r#"1025000000 {{"topic":"publicTrade.XUSDT","type":"snapshot","ts":1020,"data":[{{"T":1020,"s":"XUSDT","S":"Sell","v":"{}","p":"1.000"}}]}}"#,
                "\n",
                r#"1035000000 {{"topic":"publicTrade.XUSDT","type":"snapshot","ts":1030,"data":[{{"T":1030,"s":"XUSDT","S":"Buy","v":"6","p":"1.002"}}]}}"#,
                "\n",
                "{}"
            ),
            sell, extra
        )
    }

    #[test]
    fn touch_round_trip() {
        let rec = convert_reader(tape("20", "").as_bytes()).unwrap();
        assert_eq!(rec.offset_ns, 5_000_000);
        assert_eq!(rec.local_shift_ns, 0);
        let p = RefParams::new(0.001, 0.01, 10.0, 100.0);
        let r = run_events(&rec, &p).unwrap();
        // Both quotes land 1 ms after the snapshot is seen, 5 ahead in each
        // queue; 20 sold into the bid and 6 bought from the ask use up the
        // queues: one fill each, the whole 10 (no partial fills).
        assert_eq!((r.fills, r.buy_fills, r.sell_fills), (2, 1, 1));
        assert_eq!(
            (r.bought_qty, r.sold_qty, r.final_position),
            (10.0, 10.0, 0.0)
        );
        assert!((r.pnl - 0.02).abs() < 1e-9, "{}", r.pnl);
        assert!((r.fees - 0.0001 * 20.02).abs() < 1e-12, "{}", r.fees);
        assert_eq!(r.last_mid, Some(1.001));
        // Two quotes, then a new one on each side after its fill.
        assert_eq!(
            (r.orders_submitted, r.cancels, r.post_only_rejects),
            (4, 0, 0)
        );
        assert_eq!(r.hbt_state.num_trades, 2);
        assert!((r.hbt_state.equity.unwrap() - r.net_pnl).abs() < 1e-12);
    }

    #[test]
    fn partial_fill_exchange_exact_fill_quirk() {
        // hftbacktest 0.9.4's PartialFillExchange: when the quantity past
        // the queue equals the order's leaves exactly (15 sold − 5 ahead =
        // our 10), the order is marked Filled but stays in the exchange's
        // book; the next trade at that price fills it again and the run
        // stops with InvalidOrderStatus. The no-partial-fill exchange is fine.
        let more = concat!(
            r#"1045000000 {"topic":"publicTrade.XUSDT","type":"snapshot","ts":1040,"data":[{"T":1040,"s":"XUSDT","S":"Sell","v":"1","p":"1.000"}]}"#,
            "\n"
        );
        let rec = convert_reader(tape("15", more).as_bytes()).unwrap();
        let mut p = RefParams::new(0.001, 0.01, 10.0, 100.0);
        assert!(run_events(&rec, &p).is_ok());
        p.exchange = ExchangeModel::PartialFill;
        let err = run_events(&rec, &p).unwrap_err();
        assert!(err.contains("order status is invalid"), "{err}");
    }
}
