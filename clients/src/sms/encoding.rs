//! GSM-7 versus UCS-2, and how many SMS segments a text costs (billing is per segment).
//!
//! Text that fits the GSM 03.38 default alphabet (plus its escape table, whose characters cost
//! two septets) goes as GSM-7: 160 septets in one SMS, 153 per part when concatenated. Anything
//! else goes as UCS-2: 70 UTF-16 units in one SMS, 67 per part. Shona and Ndebele in today's
//! orthography are plain Latin letters and fit GSM-7; older spellings with letters like `ŋ`, or
//! any emoji, switch the whole message to UCS-2 rather than being mangled.

/// The SMS data coding a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    /// GSM 03.38 default alphabet, 7 bits per character.
    Gsm7,
    /// UTF-16 big-endian (UCS-2 with surrogates), 16 bits per unit.
    Ucs2,
}

/// The result of [`analyse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSegments {
    /// The coding the text needs.
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// SMS parts the text is sent as (0 for empty text).
    pub segments: usize,
}

/// The GSM 03.38 default alphabet, in code order, without the escape code itself.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Characters reached through the escape code; each costs two septets.
const GSM7_EXTENDED: &str = "\u{0c}^{}\\[~]|€";

const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;

fn gsm7_cost(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Picks the coding for `text` and counts its segments.
pub fn analyse(text: &str) -> SmsSegments {
    let costs: Option<Vec<usize>> = text.chars().map(gsm7_cost).collect();
    match costs {
        Some(costs) => {
            let units = costs.iter().sum();
            SmsSegments {
                encoding: SmsEncoding::Gsm7,
                units,
                segments: count_parts(&costs, units, GSM7_SINGLE, GSM7_PART),
            }
        }
        None => {
            let costs: Vec<usize> = text.chars().map(char::len_utf16).collect();
            let units = costs.iter().sum();
            SmsSegments {
                encoding: SmsEncoding::Ucs2,
                units,
                segments: count_parts(&costs, units, UCS2_SINGLE, UCS2_PART),
            }
        }
    }
}

/// The distinct characters of `text` outside GSM-7, in order of first appearance: the ones
/// that force the whole message to UCS-2 (what an author should replace to save segments).
pub fn non_gsm7_chars(text: &str) -> Vec<char> {
    let mut found = Vec::new();
    for c in text.chars() {
        if gsm7_cost(c).is_none() && !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// Packs characters into parts without splitting an escape pair or a surrogate pair.
fn count_parts(costs: &[usize], total: usize, single: usize, part: usize) -> usize {
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let mut parts = 1;
    let mut used = 0;
    for &cost in costs {
        if used + cost > part {
            parts += 1;
            used = 0;
        }
        used += cost;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shona_and_ndebele_fit_gsm7() {
        let shona = "Mhoro vabereki, musangano wechikoro uchaitwa neChina.";
        let ndebele = "Sawubona mzali, umhlangano wesikolo uzakuba ngoLwesine.";
        for text in [shona, ndebele] {
            let s = analyse(text);
            assert_eq!(s.encoding, SmsEncoding::Gsm7);
            assert_eq!(s.units, text.chars().count());
            assert_eq!(s.segments, 1);
        }
    }

    #[test]
    fn a_letter_outside_gsm7_switches_to_ucs2() {
        let s = analyse("Ŋombe dzose dzakadzoka");
        assert_eq!(s.encoding, SmsEncoding::Ucs2);
        assert_eq!(s.units, 22);
        assert_eq!(s.segments, 1);
    }

    #[test]
    fn escape_characters_cost_two_septets() {
        let s = analyse("Fees: €10 [term 1]");
        assert_eq!(s.encoding, SmsEncoding::Gsm7);
        assert_eq!(s.units, 18 + 3);
    }

    #[test]
    fn segment_boundaries_follow_the_standard_sizes() {
        assert_eq!(analyse(&"a".repeat(160)).segments, 1);
        assert_eq!(analyse(&"a".repeat(161)).segments, 2);
        assert_eq!(analyse(&"a".repeat(306)).segments, 2);
        assert_eq!(analyse(&"a".repeat(307)).segments, 3);
        assert_eq!(analyse(&"ŋ".repeat(70)).segments, 1);
        assert_eq!(analyse(&"ŋ".repeat(71)).segments, 2);
        assert_eq!(analyse(&"ŋ".repeat(134)).segments, 2);
        assert_eq!(analyse(&"ŋ".repeat(135)).segments, 3);
        assert_eq!(analyse("").segments, 0);
    }

    #[test]
    fn an_escape_pair_is_never_split_across_parts() {
        // 152 plain septets then '€' (2 septets) would straddle the 153-septet part boundary.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let s = analyse(&text);
        assert_eq!(s.units, 164);
        assert_eq!(s.segments, 2);
        // 306 septets would fit two parts of 153 only by splitting the pair.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(152));
        assert_eq!(analyse(&text).units, 306);
        assert_eq!(analyse(&text).segments, 3);
    }

    #[test]
    fn the_characters_that_force_ucs2_are_named_once_each() {
        assert_eq!(non_gsm7_chars("Fees: €10 [term 1]"), Vec::<char>::new());
        assert_eq!(non_gsm7_chars("It’s due – pay ‘now’"), ['’', '–', '‘']);
    }

    #[test]
    fn emoji_count_as_two_utf16_units() {
        let s = analyse("Well done 🎉");
        assert_eq!(s.encoding, SmsEncoding::Ucs2);
        assert_eq!(s.units, 12);
    }
}
