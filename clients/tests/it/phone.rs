use oneclass_clients::{Network, PhoneError, ZwMobile};

#[test]
fn every_common_spelling_of_a_number_normalises_to_the_same_e164() {
    for input in [
        "0771 234 567",
        "077-123-4567",
        "+263 77 123 4567",
        "263771234567",
        "00263771234567",
        "(077) 123.4567",
    ] {
        let n = ZwMobile::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(n.e164(), "+263771234567", "{input}");
    }
}

#[test]
fn the_network_follows_the_mobile_prefix() {
    let cases = [
        ("0712345678", Network::NetOne),
        ("0782345678", Network::Econet),
        ("0772345678", Network::Econet),
        ("0732345678", Network::Telecel),
    ];
    for (input, network) in cases {
        assert_eq!(
            ZwMobile::parse(input).unwrap().network(),
            network,
            "{input}"
        );
    }
}

#[test]
fn provider_wire_forms_are_local_for_paynow_and_bare_international_for_ecocash() {
    let n = ZwMobile::parse("+263771111111").unwrap();
    assert_eq!(n.paynow(), "0771111111");
    assert_eq!(n.msisdn(), "263771111111");
    assert_eq!(n.to_string(), "+263771111111");
}

#[test]
fn landlines_foreign_numbers_and_junk_are_refused() {
    assert_eq!(
        ZwMobile::parse("+27821234567"),
        Err(PhoneError::ForeignCountry(27))
    );
    assert_eq!(ZwMobile::parse("0242123456"), Err(PhoneError::NotMobile));
    assert_eq!(ZwMobile::parse("07712"), Err(PhoneError::NotMobile));
    assert!(ZwMobile::parse("hello").is_err());
}
