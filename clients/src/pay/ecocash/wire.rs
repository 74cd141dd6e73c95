//! EcoCash Open API bodies, spelt exactly as EcoCash spells them (private to the module; the
//! simulator shares them).

use serde::{Deserialize, Serialize};

/// `POST /api/v2/payment/instant/c2b/{env}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentBody {
    /// `263…`, no plus.
    pub customer_msisdn: String,
    pub amount: f64,
    pub reason: String,
    pub currency: String,
    /// A UUID chosen by the merchant; the key of the lookup.
    pub source_reference: String,
}

/// `POST /api/v1/transaction/c2b/status/{env}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LookupBody {
    pub source_mobile_number: String,
    pub source_reference: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Money {
    pub amount: f64,
    pub currency: String,
}

/// The lookup reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LookupReply {
    pub amount: Money,
    pub customer_msisdn: String,
    pub reference: String,
    #[serde(default)]
    pub ecocash_reference: Option<String>,
    pub status: String,
    #[serde(default)]
    pub transaction_date_time: Option<String>,
}

/// `POST /api/v2/refund/instant/c2b/{env}`; the two odd spellings are EcoCash's own.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RefundBody {
    #[serde(rename = "origionalEcocashTransactionReference")]
    pub original_reference: String,
    #[serde(rename = "refundCorelator")]
    pub refund_correlator: String,
    #[serde(rename = "sourceMobileNumber")]
    pub source_mobile_number: String,
    pub amount: f64,
    #[serde(rename = "clientName")]
    pub client_name: String,
    pub currency: String,
    #[serde(rename = "reasonForRefund")]
    pub reason_for_refund: String,
}

/// The refund reply (lower-case `clienttransactionDate` and `transactionstartTime` are
/// EcoCash's).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct RefundReply {
    #[serde(rename = "sourceReference")]
    pub source_reference: Option<String>,
    #[serde(rename = "transactionEndTime")]
    pub transaction_end_time: Option<String>,
    #[serde(rename = "callbackUrl")]
    pub callback_url: Option<String>,
    #[serde(rename = "destinationReferenceCode")]
    pub destination_reference_code: Option<String>,
    #[serde(rename = "sourceMobileNumber")]
    pub source_mobile_number: Option<String>,
    #[serde(rename = "transactionStatus")]
    pub transaction_status: Option<String>,
    pub amount: Option<f64>,
    #[serde(rename = "destinationEcocashReference")]
    pub destination_ecocash_reference: Option<String>,
    #[serde(rename = "clientMerchantCode")]
    pub client_merchant_code: Option<String>,
    #[serde(rename = "clientMerchantNumber")]
    pub client_merchant_number: Option<String>,
    #[serde(rename = "clienttransactionDate")]
    pub client_transaction_date: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "responseMessage")]
    pub response_message: Option<String>,
    pub currency: Option<String>,
    #[serde(rename = "paymentAmount")]
    pub payment_amount: Option<f64>,
    #[serde(rename = "ecocashReference")]
    pub ecocash_reference: Option<String>,
    #[serde(rename = "transactionstartTime")]
    pub transaction_start_time: Option<String>,
}

/// The status callback EcoCash POSTs to the merchant.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallbackBody {
    pub transaction_operation_status: String,
    pub client_reference: String,
    #[serde(default)]
    pub ecocash_reference: Option<String>,
}
