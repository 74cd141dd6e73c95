//! Zimbabwean mobile numbers: parsing to E.164, the network behind a number, and the wire forms
//! each provider wants.
//!
//! Parsing and validation go through the `phonenumber` crate (Google's libphonenumber metadata),
//! so the accepted ranges follow upstream updates rather than a table of our own. That metadata
//! carries no carrier data, so the network comes from the two-digit mobile prefix of the validated
//! national number (NetOne 71/72, Telecel 73, Econet 77/78/79); number portability has never been
//! implemented in Zimbabwe, so the prefix still names the network.

use std::fmt;

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::Type;

/// Why a string is not a Zimbabwean mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not a phone number at all.
    #[error("not a phone number: {0}")]
    Unparseable(String),
    /// A valid number of another country.
    #[error("not a Zimbabwean number (country code {0})")]
    ForeignCountry(u16),
    /// A Zimbabwean number that libphonenumber does not consider valid or not mobile.
    #[error("not a valid Zimbabwean mobile number")]
    NotMobile,
}

/// The mobile network operator a number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// NetOne (OneMoney wallet).
    NetOne,
    /// Telecel (Telecash wallet).
    Telecel,
    /// Econet (EcoCash wallet).
    Econet,
    /// A valid mobile range with no operator we know (e.g. 751).
    Other,
}

/// A validated Zimbabwean mobile number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZwMobile {
    /// The 9-digit national significant number, e.g. `771234567`.
    national: String,
}

impl ZwMobile {
    /// Parses any common way of writing a Zimbabwean mobile: `0771 234 567`, `+263 77 123 4567`,
    /// `263771234567`, `00263771234567`.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let cleaned: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        // Written without `+` but with the country code, the library would read 263… as a
        // national number; give it the `+` it expects.
        let cleaned = match cleaned.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None if cleaned.starts_with("263") && cleaned.len() == 12 => format!("+{cleaned}"),
            None => cleaned,
        };
        let number = phonenumber::parse(Some(Id::ZW), &cleaned)
            .map_err(|e| PhoneError::Unparseable(format!("{input:?}: {e}")))?;
        let code = number.code().value();
        if code != 263 {
            return Err(PhoneError::ForeignCountry(code));
        }
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::NotMobile);
        }
        if !matches!(number.number_type(&DATABASE), Type::Mobile) {
            return Err(PhoneError::NotMobile);
        }
        Ok(Self {
            national: number.national().value().to_string(),
        })
    }

    /// `+2637XXXXXXXX`.
    pub fn e164(&self) -> String {
        format!("+263{}", self.national)
    }

    /// The 9-digit national significant number.
    pub fn national(&self) -> &str {
        &self.national
    }

    /// The operator, from the mobile prefix.
    pub fn network(&self) -> Network {
        match &self.national[..2] {
            "71" | "72" => Network::NetOne,
            "73" => Network::Telecel,
            "77" | "78" | "79" => Network::Econet,
            _ => Network::Other,
        }
    }

    /// Paynow's `phone` field: the local form `07XXXXXXXX`.
    pub fn paynow(&self) -> String {
        format!("0{}", self.national)
    }

    /// EcoCash Open API's `customerMsisdn`: `2637XXXXXXXX`, no `+`.
    pub fn msisdn(&self) -> String {
        format!("263{}", self.national)
    }
}

impl fmt::Display for ZwMobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164())
    }
}

impl std::str::FromStr for ZwMobile {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
