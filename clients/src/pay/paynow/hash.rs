//! Paynow's message hash: the trimmed values of every field except `hash`, in the order they
//! appear, concatenated with nothing between them, followed by the integration key; SHA-512 of
//! the UTF-8 bytes as 128 uppercase hex digits.
//!
//! Values are hashed as they are before form-encoding (outbound) or after one decoding (inbound).
//! Every official SDK lower-cases the integration key before hashing, so we do too.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq as _;

/// Hashes values (already in message order, `hash` excluded) with the integration key.
pub fn hash_values<'a>(values: impl IntoIterator<Item = &'a str>, key: &str) -> String {
    let mut hasher = Sha512::new();
    for value in values {
        hasher.update(value.trim().as_bytes());
    }
    hasher.update(key.trim().to_lowercase().as_bytes());
    hex::encode_upper(hasher.finalize())
}

/// Hashes the fields of a message, skipping any field named `hash` in any case.
pub fn hash_fields(fields: &[(String, String)], key: &str) -> String {
    hash_values(
        fields
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("hash"))
            .map(|(_, value)| value.as_str()),
        key,
    )
}

/// Compares two hex hashes ignoring case, in time independent of where they differ.
pub(crate) fn same_hash(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_uppercase(), b.trim().to_ascii_uppercase());
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";

    #[test]
    fn outbound_test_vector_from_the_paynow_docs_matches() {
        let fields: Vec<(String, String)> = [
            ("id", "1201"),
            ("reference", "TEST REF"),
            ("amount", "99.99"),
            ("additionalinfo", "A test ticket transaction"),
            ("returnurl", "http://www.google.com/search?q=returnurl"),
            ("resulturl", "http://www.google.com/search?q=resulturl"),
            ("status", "Message"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            hash_fields(&fields, KEY),
            "2A033FC38798D913D42ECB786B9B19645ADEDBDE788862032F1BD82CF3B92DEF\
             84F316385D5B40DBB35F1A4FD7D5BFE73835174136463CDD48C9366B0749C689"
        );
    }

    #[test]
    fn inbound_test_vector_from_the_paynow_docs_matches() {
        let body = "status=Ok&browserurl=https%3a%2f%2fstaging.paynow.co.zw%2fPayment%2fConfirmPayment%2f9510\
                    &pollurl=https%3a%2f%2fstaging.paynow.co.zw%2fInterface%2fCheckPayment%2f%3fguid%3dc7ed41da-0159-46da-b428-69549f770413\
                    &paynowreference=9510";
        let fields: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            hash_fields(&fields, KEY),
            "750DD0B0DF374678707BB5AF915AF81C228B9058AD57BB7120569EC68BBB9C2E\
             FC1B26C6375D2BC562AC909B3CD6B2AF1D42E1A5E479FFAC8F4FB3FDCE71DF4D"
        );
    }

    #[test]
    fn the_key_is_lowercased_and_values_trimmed() {
        assert_eq!(
            hash_values([" a ", "b"], &KEY.to_uppercase()),
            hash_values(["a", "b"], KEY)
        );
    }

    #[test]
    fn hashes_compare_case_insensitively_but_exactly() {
        assert!(same_hash("ABCDEF", "abcdef"));
        assert!(!same_hash("ABCDEF", "ABCDEE"));
        assert!(!same_hash("ABCDEF", "ABCDE"));
    }
}
