//! Does the derived apply dispatch cost anything?
//!
//! Folds 1,000,000 events into an aggregate twice: through
//! `Aggregate::apply` as `#[derive(Aggregate)]` and `#[derive(Event)]`
//! generate it (`ApplyTo` on the event enum, then the `Apply` impls), and
//! through the `match` one would write by hand with the same bodies. The
//! bodies are cheap on purpose, so that dispatch is most of the work.
//!
//! Run with `cargo bench -p es-tests --bench dispatch`. Expect a ratio of
//! about 1.0 (at most 1.1).

use std::hint::black_box;
use std::time::{Duration, Instant};

use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

const EVENTS: usize = 1_000_000;
const RUNS: usize = 15;

#[derive(Event, Serialize, Deserialize, Clone)]
struct Opened {
    owner: u32,
}

#[derive(Event, Serialize, Deserialize, Clone)]
struct Deposited {
    cents: i64,
}

#[derive(Event, Serialize, Deserialize, Clone)]
struct Withdrew {
    cents: i64,
}

#[derive(Event, Serialize, Deserialize, Clone)]
struct Frozen;

#[derive(Event, Serialize, Deserialize, Clone)]
struct Unfrozen;

#[derive(Event, Clone)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrew(Withdrew),
    Frozen(Frozen),
    Unfrozen(Unfrozen),
}

/// The state, folded through the derived dispatch.
#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "bench.account", event = AccountEvent)]
struct Account {
    owner: u32,
    balance: i64,
    movements: u64,
    frozen: bool,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, event: &Opened) {
        self.owner = event.owner;
    }
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.balance += event.cents;
        self.movements += 1;
    }
}

impl Apply<Withdrew> for Account {
    fn apply(&mut self, event: &Withdrew) {
        self.balance -= event.cents;
        self.movements += 1;
    }
}

impl Apply<Frozen> for Account {
    fn apply(&mut self, _: &Frozen) {
        self.frozen = true;
    }
}

impl Apply<Unfrozen> for Account {
    fn apply(&mut self, _: &Unfrozen) {
        self.frozen = false;
    }
}

/// The same state, folded by a hand-written `match`.
#[derive(Default)]
struct HandAccount {
    owner: u32,
    balance: i64,
    movements: u64,
    frozen: bool,
}

impl HandAccount {
    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(e) => self.owner = e.owner,
            AccountEvent::Deposited(e) => {
                self.balance += e.cents;
                self.movements += 1;
            }
            AccountEvent::Withdrew(e) => {
                self.balance -= e.cents;
                self.movements += 1;
            }
            AccountEvent::Frozen(_) => self.frozen = true,
            AccountEvent::Unfrozen(_) => self.frozen = false,
        }
    }
}

/// One opening, then deposits and withdrawals (45 % each) with freezes and
/// unfreezes (5 % each), in a fixed pseudo-random order.
fn workload() -> Vec<AccountEvent> {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut events = vec![AccountEvent::from(Opened { owner: 7 })];
    events.extend((1..EVENTS).map(|_| match rng.u8(0..100) {
        0..45 => Deposited { cents: rng.i64(1..10_000) }.into(),
        45..90 => Withdrew { cents: rng.i64(1..10_000) }.into(),
        90..95 => Frozen.into(),
        _ => Unfrozen.into(),
    }));
    events
}

fn derived(events: &[AccountEvent]) -> (i64, u64) {
    let mut account = Account::default();
    for event in events {
        Aggregate::apply(&mut account, black_box(event));
    }
    black_box((account.owner, account.frozen));
    (account.balance, account.movements)
}

fn by_hand(events: &[AccountEvent]) -> (i64, u64) {
    let mut account = HandAccount::default();
    for event in events {
        account.apply(black_box(event));
    }
    black_box((account.owner, account.frozen));
    (account.balance, account.movements)
}

fn time(f: fn(&[AccountEvent]) -> (i64, u64), events: &[AccountEvent]) -> (Duration, (i64, u64)) {
    let start = Instant::now();
    let result = black_box(f(black_box(events)));
    (start.elapsed(), result)
}

fn main() {
    let events = workload();
    // Warm up, and check that both folds agree.
    let (_, expected) = time(derived, &events);
    assert_eq!(time(by_hand, &events).1, expected, "the two dispatches disagree");

    let (mut derived_times, mut hand_times) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        // Alternate, so that both see the same machine load.
        derived_times.push(time(derived, &events).0);
        hand_times.push(time(by_hand, &events).0);
    }
    derived_times.sort();
    hand_times.sort();
    let (derived_best, hand_best) = (derived_times[0], hand_times[0]);
    let (derived_median, hand_median) = (derived_times[RUNS / 2], hand_times[RUNS / 2]);

    println!("workload: {EVENTS} events of 5 types (45 % deposits, 45 % withdrawals, 5 % freezes, 5 % unfreezes)");
    println!("          folded into one aggregate, {RUNS} runs of each, alternating; balance {}", expected.0);
    println!(
        "derived dispatch (#[derive(Aggregate)] + #[derive(Event)]): best {derived_best:?}, median {derived_median:?}"
    );
    println!("hand-written match:                                       best {hand_best:?}, median {hand_median:?}");
    println!(
        "ratio derived / hand: {:.3} (best), {:.3} (median); expected <= 1.1",
        derived_best.as_secs_f64() / hand_best.as_secs_f64(),
        derived_median.as_secs_f64() / hand_median.as_secs_f64(),
    );
}
