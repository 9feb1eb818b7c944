//! The bank account: the classic event-sourced aggregate.
//!
//! Commands check invariants against the current state and return the
//! events that record the decision; only `apply` changes state.

use es_core::{Aggregate, Apply, Event};
use serde::{Deserialize, Serialize};

/// An account was opened for an owner.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Opened {
    /// Who owns the account.
    pub owner: String,
}

/// Money was paid in, in cents.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Deposited {
    /// Cents paid in.
    pub amount: i64,
}

/// Money was taken out, in cents.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Withdrew {
    /// Cents taken out.
    pub amount: i64,
}

/// The account was closed; it accepts no more money movements.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Closed;

/// Everything that can happen to an account.
#[derive(Event, Debug, Clone, PartialEq)]
pub enum AccountEvent {
    /// See [`Opened`].
    Opened(Opened),
    /// See [`Deposited`].
    Deposited(Deposited),
    /// See [`Withdrew`].
    Withdrew(Withdrew),
    /// See [`Closed`].
    Closed(Closed),
}

/// Why an account refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Opening an account twice.
    #[error("the account is already open")]
    AlreadyOpen,
    /// A command on an account that was never opened.
    #[error("the account is not open")]
    NotOpen,
    /// Moving money in or out of a closed account.
    #[error("the account is closed")]
    Closed,
    /// Zero or negative amounts.
    #[error("the amount must be positive, got {0} cents")]
    InvalidAmount(i64),
    /// Taking out more than the balance.
    #[error("insufficient funds: the balance is {balance} cents, {requested} were requested")]
    InsufficientFunds {
        /// The balance when the withdrawal was asked for.
        balance: i64,
        /// The amount asked for.
        requested: i64,
    },
}

/// A bank account's state, folded from its events.
#[derive(Aggregate, Default, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[aggregate(name = "account", event = AccountEvent, snapshot_every = 5)]
pub struct Account {
    /// The owner, once opened.
    pub owner: Option<String>,
    /// The balance in cents.
    pub balance: i64,
    /// Whether the account was closed.
    pub closed: bool,
}

impl Apply<Opened> for Account {
    fn apply(&mut self, event: &Opened) {
        self.owner = Some(event.owner.clone());
    }
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.balance += event.amount;
    }
}

impl Apply<Withdrew> for Account {
    fn apply(&mut self, event: &Withdrew) {
        self.balance -= event.amount;
    }
}

impl Apply<Closed> for Account {
    fn apply(&mut self, _: &Closed) {
        self.closed = true;
    }
}

impl Account {
    /// Opens the account for `owner`.
    pub fn open(&self, owner: &str) -> Result<Vec<AccountEvent>, AccountError> {
        if self.owner.is_some() {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(vec![Opened { owner: owner.to_owned() }.into()])
    }

    /// Pays `amount` cents in.
    pub fn deposit(&self, amount: i64) -> Result<Vec<AccountEvent>, AccountError> {
        self.check_movement(amount)?;
        Ok(vec![Deposited { amount }.into()])
    }

    /// Takes `amount` cents out, if the balance covers it.
    pub fn withdraw(&self, amount: i64) -> Result<Vec<AccountEvent>, AccountError> {
        self.check_movement(amount)?;
        if amount > self.balance {
            return Err(AccountError::InsufficientFunds { balance: self.balance, requested: amount });
        }
        Ok(vec![Withdrew { amount }.into()])
    }

    /// Closes the account.
    pub fn close(&self) -> Result<Vec<AccountEvent>, AccountError> {
        self.check_open()?;
        Ok(vec![Closed.into()])
    }

    fn check_open(&self) -> Result<(), AccountError> {
        match (&self.owner, self.closed) {
            (None, _) => Err(AccountError::NotOpen),
            (Some(_), true) => Err(AccountError::Closed),
            (Some(_), false) => Ok(()),
        }
    }

    fn check_movement(&self, amount: i64) -> Result<(), AccountError> {
        self.check_open()?;
        if amount <= 0 {
            return Err(AccountError::InvalidAmount(amount));
        }
        Ok(())
    }
}

/// Whole dollars in cents, the unit accounts work in.
pub const fn usd(dollars: i64) -> i64 {
    dollars * 100
}

/// Formats cents as dollars, such as `$12.05`.
pub fn dollars(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

#[cfg(test)]
mod tests {
    use es_core::testing::{given, given_no_events};

    use super::*;

    fn opened() -> AccountEvent {
        Opened { owner: "alice".into() }.into()
    }

    #[test]
    fn dollars_format_cents() {
        assert_eq!((dollars(usd(12) + 5), dollars(-7), dollars(0)), ("$12.05".into(), "-$0.07".into(), "$0.00".into()));
    }

    #[test]
    fn opening_records_the_owner() {
        let state = given_no_events::<Account>().when(|a| a.open("alice")).then([opened()]);
        assert_eq!(state.owner.as_deref(), Some("alice"));
    }

    #[test]
    fn an_account_opens_once() {
        given::<Account>([opened()]).when(|a| a.open("bob")).then_error(AccountError::AlreadyOpen);
    }

    #[test]
    fn a_withdrawal_within_the_balance_is_recorded() {
        let state = given::<Account>([opened(), Deposited { amount: 100 }.into()])
            .when(|a| a.withdraw(60))
            .then([Withdrew { amount: 60 }]);
        assert_eq!(state.balance, 40);
    }

    #[test]
    fn a_withdrawal_beyond_the_balance_is_refused() {
        given::<Account>([opened(), Deposited { amount: 100 }.into()])
            .when(|a| a.withdraw(101))
            .then_error(AccountError::InsufficientFunds { balance: 100, requested: 101 });
    }

    #[test]
    fn a_closed_account_takes_no_money() {
        given::<Account>([opened(), Closed.into()]).when(|a| a.deposit(5)).then_error(AccountError::Closed);
    }

    #[test]
    fn amounts_must_be_positive() {
        given::<Account>([opened()]).when(|a| a.deposit(0)).then_error(AccountError::InvalidAmount(0));
    }

    #[test]
    fn nothing_happens_to_an_account_never_opened() {
        given_no_events::<Account>().when(|a| a.deposit(5)).then_error(AccountError::NotOpen);
    }
}
