//! Payments: the [`PaymentGateway`] capability, the Paynow client and the EcoCash Open API
//! client.

pub mod ecocash;
mod gateway;
pub mod paynow;

pub use gateway::{
    Initiated, PaymentGateway, PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, Wallet,
};
