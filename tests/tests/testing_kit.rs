//! The given/when/then kit reports what went wrong.

use es_core::testing::{given, given_no_events};
use es_examples::account::{Account, AccountError, AccountEvent, Deposited, Opened, Withdrew};

fn opened() -> Opened {
    Opened { owner: "alice".into() }
}

#[test]
fn then_returns_the_state_after_the_new_events() {
    let state = given::<Account>([opened()]).when(|a| a.deposit(30)).then([Deposited { amount: 30 }]);
    assert_eq!(state.balance, 30);
}

#[test]
fn then_error_accepts_the_expected_rejection() {
    given_no_events::<Account>().when(|a| a.withdraw(1)).then_error(AccountError::NotOpen);
}

#[test]
#[should_panic(expected = "the command produced other events than expected")]
fn then_fails_on_other_events() {
    given::<Account>([opened()]).when(|a| a.deposit(30)).then([Deposited { amount: 31 }]);
}

#[test]
#[should_panic(expected = "but the command was rejected with NotOpen")]
fn then_fails_on_a_rejection() {
    given_no_events::<Account>().when(|a| a.deposit(30)).then([Deposited { amount: 30 }]);
}

#[test]
#[should_panic(expected = "expected rejection Closed, but the command produced")]
fn then_error_fails_on_success() {
    given::<Account>([opened()]).when(|a| a.deposit(30)).then_error(AccountError::Closed);
}

#[test]
#[should_panic(expected = "the command was rejected with another error")]
fn then_error_fails_on_another_rejection() {
    given::<Account>([opened()]).when(|a| a.withdraw(30)).then_error(AccountError::Closed);
}

#[test]
fn given_applies_the_whole_history() {
    let history = [AccountEvent::from(opened()), Deposited { amount: 100 }.into(), Withdrew { amount: 40 }.into()];
    let state = given::<Account>(history).when(|a| a.withdraw(60)).then([Withdrew { amount: 60 }]);
    assert_eq!(state.balance, 0);
}

#[test]
fn a_history_mixes_event_types_one_at_a_time() {
    let state = given_no_events::<Account>()
        .and(opened())
        .and(Deposited { amount: 100 })
        .and(Withdrew { amount: 40 })
        .when(|a| a.withdraw(60))
        .then([Withdrew { amount: 60 }]);
    assert_eq!(state.balance, 0);
}

#[test]
fn then_no_events_accepts_a_command_with_nothing_to_do() {
    let closed = given_no_events::<Account>().and(opened()).when(|a| a.close()).then([es_examples::account::Closed]);
    assert!(closed.closed);
    given::<Account>([opened()]).when(|_| Ok::<_, AccountError>(Vec::new())).then_no_events();
}

#[test]
#[should_panic(expected = "expected no events, but the command produced")]
fn then_no_events_fails_on_events() {
    given::<Account>([opened()]).when(|a| a.deposit(30)).then_no_events();
}
