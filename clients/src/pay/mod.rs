//! Payments: the [`PaymentGateway`] capability and the Paynow client.

mod gateway;
pub mod paynow;

pub use gateway::{
    Initiated, PaymentGateway, PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, Wallet,
};
