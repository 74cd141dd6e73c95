//! SMS: the [`SmsGateway`] capability, GSM-7/UCS-2 segmentation, the shared HTTP SMS client and
//! one thin wire mapping per gateway (Kannel, TelOne, Econet).

pub mod econet;
mod encoding;
mod gateway;
mod http_client;
pub mod kannel;
pub mod telone;

pub use encoding::{analyse, non_gsm7_chars, SmsEncoding, SmsSegments};
pub use gateway::{DeliveryReport, DeliveryState, SmsGateway, SmsMessage};
pub use http_client::HttpSmsClient;
