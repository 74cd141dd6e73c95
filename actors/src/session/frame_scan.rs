//! Reading RFC 6455 frame headers from a client's byte stream as the bytes pass, a byte at a time
//! in the header and a run at a time in the payload, without buffering anything but the header.
//!
//! [`FrameScanner`] is the pure half of the read guard (`read_guard.rs`): it knows where each
//! frame and each message ends and refuses a frame by its header, before any of its payload has
//! arrived. It checks the header fields as soon as their byte is seen:
//!
//! | byte | check | refusal |
//! |---|---|---|
//! | 0 | RSV1-3 clear (no extension is negotiated) | `Protocol` |
//! | 0 | a known opcode; a control frame not fragmented; a continuation only inside a fragmented message, a text or binary frame only outside one | `Protocol` |
//! | 1 | the mask bit set (every client frame is masked) | `Protocol` |
//! | 1 | a control frame's length at most 125 | `Protocol` |
//! | last length byte | the message's payload (for a fragment: all fragments so far, this one included) at most the limit | `TooLarge` |
//!
//! Invariants: the scanner never reads past a byte it refuses, so everything before the refused
//! byte can still be handed on and decoded; a refusal is final (every later call returns it);
//! lengths are compared as announced, so a header announcing 2^40 bytes is refused when its
//! length bytes arrive, whatever follows. A 64-bit length with its top bit set (invalid per the
//! RFC) is larger than any limit and refused as `TooLarge`. Non-minimal length encodings are
//! accepted, as actix-http accepts them: the scanner must never refuse what the decoder behind it
//! would accept.

/// Largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;
/// Largest frame header a client sends: two bytes, a 64-bit length and the 4-byte mask.
const MAX_HEADER_LEN: usize = 14;
/// The mask key every client frame carries (RFC 6455 §5.3).
const MASK_LEN: usize = 4;

/// Why the read side refused the client's bytes. `frames.rs` maps each to its close code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadRefused {
    /// A header announced a message above the limit (fragments counted together).
    #[error("a message of {announced} bytes was announced; the limit is {limit}")]
    TooLarge { announced: u64, limit: usize },
    /// A message's framing (headers of many fragments) filled the connection's read budget
    /// before the message ended.
    #[error("a message and its framing exceed the read budget of {budget} bytes")]
    OverBudget { budget: usize },
    /// The frame breaks RFC 6455.
    #[error("{0}")]
    Protocol(&'static str),
}

/// What one [`FrameScanner::scan`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scanned {
    /// Bytes taken from the front of the input.
    pub used: usize,
    /// Whether the last byte taken ended a frame.
    pub frame_ended: bool,
    /// Whether the last byte taken ended a message: a control frame, or the final frame of a
    /// text or binary message. Each such end is one message actix-ws yields.
    pub message_ended: bool,
}

/// A frame's header, once all of it was seen.
#[derive(Debug, Clone, Copy)]
struct Header {
    len: u64,
    ends_message: bool,
}

#[derive(Debug)]
enum Position {
    /// In a header (or between frames, `seen == 0`): the header bytes seen so far.
    Header {
        bytes: [u8; MAX_HEADER_LEN],
        seen: usize,
    },
    /// In a payload: `left` bytes to go.
    Payload { left: u64, ends_message: bool },
}

impl Position {
    fn frame_start() -> Self {
        Position::Header {
            bytes: [0; MAX_HEADER_LEN],
            seen: 0,
        }
    }
}

/// Follows the frames of one client connection (see the module doc).
#[derive(Debug)]
pub(super) struct FrameScanner {
    limit: usize,
    position: Position,
    /// Payload bytes announced by the fragments of the text or binary message in progress;
    /// `None` outside a fragmented message.
    fragmented: Option<u64>,
    /// A refusal found after some bytes were taken: those bytes were returned, this is returned
    /// by every later call.
    refused: Option<ReadRefused>,
}

impl FrameScanner {
    /// A scanner refusing messages over `limit` payload bytes.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            position: Position::frame_start(),
            fragmented: None,
            refused: None,
        }
    }

    /// Whether the next byte is the first byte of a frame.
    pub(super) fn at_frame_start(&self) -> bool {
        matches!(self.position, Position::Header { seen: 0, .. })
    }

    /// Takes bytes from the front of `input` up to the end of the current frame. Stops before
    /// a byte it refuses: the bytes before it are returned as taken and the refusal comes with
    /// the next call, so `Err` always means "not one more byte".
    pub(super) fn scan(&mut self, input: &[u8]) -> Result<Scanned, ReadRefused> {
        if let Some(refused) = &self.refused {
            return Err(refused.clone());
        }
        let mut used = 0;
        loop {
            match &mut self.position {
                Position::Header { bytes, seen } => {
                    let Some(&byte) = input.get(used) else {
                        return Ok(Scanned::partial(used));
                    };
                    bytes[*seen] = byte;
                    *seen += 1;
                    let (bytes, seen) = (*bytes, *seen);
                    match self.check_header(&bytes[..seen]) {
                        Err(refused) if used == 0 => {
                            self.refused = Some(refused.clone());
                            return Err(refused);
                        }
                        Err(refused) => {
                            self.refused = Some(refused);
                            return Ok(Scanned::partial(used));
                        }
                        Ok(None) => used += 1,
                        Ok(Some(header)) => {
                            used += 1;
                            self.position = Position::Payload {
                                left: header.len,
                                ends_message: header.ends_message,
                            };
                        }
                    }
                }
                Position::Payload { left, ends_message } => {
                    let rest = (input.len() - used) as u64;
                    let take = rest.min(*left);
                    // `take` is at most `rest`, a slice length, so it fits a usize.
                    used += take as usize;
                    *left -= take;
                    if *left > 0 {
                        return Ok(Scanned::partial(used));
                    }
                    let message_ended = *ends_message;
                    self.position = Position::frame_start();
                    return Ok(Scanned {
                        used,
                        frame_ended: true,
                        message_ended,
                    });
                }
            }
        }
    }

    /// Checks the header seen so far (its last byte is new); `Some` once it is complete, with
    /// the scanner's message state advanced past it.
    fn check_header(&mut self, h: &[u8]) -> Result<Option<Header>, ReadRefused> {
        let first = h[0];
        let fin = first & 0x80 != 0;
        let opcode = first & 0x0F;
        let control = opcode >= 8;
        if h.len() == 1 {
            if first & 0x70 != 0 {
                return Err(ReadRefused::Protocol("reserved bits set"));
            }
            return match opcode {
                0 if self.fragmented.is_none() => Err(ReadRefused::Protocol(
                    "a continuation frame with no message to continue",
                )),
                1 | 2 if self.fragmented.is_some() => Err(ReadRefused::Protocol(
                    "a new message inside a fragmented one",
                )),
                0..=2 => Ok(None),
                8..=10 if !fin => Err(ReadRefused::Protocol("a fragmented control frame")),
                8..=10 => Ok(None),
                _ => Err(ReadRefused::Protocol("unknown opcode")),
            };
        }
        let second = h[1];
        let len7 = u64::from(second & 0x7F);
        let extended = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if h.len() == 2 {
            if second & 0x80 == 0 {
                return Err(ReadRefused::Protocol("an unmasked client frame"));
            }
            if control && len7 > MAX_CONTROL_PAYLOAD {
                return Err(ReadRefused::Protocol("a control frame over 125 bytes"));
            }
        }
        let len = match extended {
            0 => len7,
            _ if h.len() < 2 + extended => return Ok(None),
            2 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            // unwrap: the slice is exactly 8 bytes long.
            _ => u64::from_be_bytes(h[2..10].try_into().unwrap()),
        };
        if h.len() == 2 + extended && !control {
            let announced = self.fragmented.unwrap_or(0).saturating_add(len);
            if announced > self.limit as u64 {
                return Err(ReadRefused::TooLarge {
                    announced,
                    limit: self.limit,
                });
            }
        }
        if h.len() < 2 + extended + MASK_LEN {
            return Ok(None);
        }
        let ends_message = if control {
            true
        } else if fin {
            self.fragmented = None;
            true
        } else {
            self.fragmented = Some(self.fragmented.unwrap_or(0) + len);
            false
        };
        Ok(Some(Header { len, ends_message }))
    }
}

impl Scanned {
    fn partial(used: usize) -> Self {
        Self {
            used,
            frame_ended: false,
            message_ended: false,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const TEXT: u8 = 0x1;
    const BINARY: u8 = 0x2;
    const CONTINUATION: u8 = 0x0;
    const CLOSE: u8 = 0x8;
    const PING: u8 = 0x9;

    /// A masked client frame: `fin`, `opcode`, a payload of `len` bytes (all zero).
    pub(in crate::session) fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut out = header(fin, opcode, len as u64);
        out.extend(std::iter::repeat_n(0u8, len));
        out
    }

    /// The masked header of a client frame announcing `len` bytes, in the shortest length form.
    pub(in crate::session) fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match len {
            0..=125 => out.push(0x80 | len as u8),
            126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend((len as u16).to_be_bytes());
            }
            _ => {
                out.push(0x80 | 127);
                out.extend(len.to_be_bytes());
            }
        }
        out.extend([1, 2, 3, 4]);
        out
    }

    /// Scans `input` to its end, `chunk` bytes per call; the ends of the messages (offsets just
    /// past each), or the refusal and the bytes taken before it.
    fn scan_all(
        s: &mut FrameScanner,
        input: &[u8],
        chunk: usize,
    ) -> Result<Vec<usize>, (usize, ReadRefused)> {
        let mut ends = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let end = (at + chunk).min(input.len());
            let mut piece = &input[at..end];
            while !piece.is_empty() {
                match s.scan(piece) {
                    Ok(scanned) => {
                        assert!(scanned.used > 0, "a scan with input took nothing");
                        at += scanned.used;
                        piece = &piece[scanned.used..];
                        if scanned.message_ended {
                            ends.push(at);
                        }
                    }
                    Err(refused) => return Err((at, refused)),
                }
            }
        }
        Ok(ends)
    }

    #[test]
    fn all_three_length_forms_pass_whole_or_split_into_chunks_of_any_size() {
        let mut input = frame(true, TEXT, 125);
        input.extend(frame(true, BINARY, 126));
        input.extend(frame(true, BINARY, 65_535));
        input.extend(frame(true, TEXT, 65_536));
        input.extend(frame(true, TEXT, 0));
        let ends = [
            131,
            131 + 134,
            131 + 134 + 65_543,
            131 + 134 + 65_543 + 65_550,
        ];
        let ends: Vec<usize> = ends.into_iter().chain([ends[3] + 6]).collect();
        for chunk in [1, 2, 3, 7, 13, 14, 1000, input.len()] {
            let mut s = FrameScanner::new(65_536);
            assert_eq!(scan_all(&mut s, &input, chunk), Ok(ends.clone()), "{chunk}");
            assert!(s.at_frame_start());
        }
    }

    #[test]
    fn a_header_announcing_more_than_the_limit_is_refused_at_its_last_length_byte() {
        for (len, length_bytes) in [(126u64, 2usize), (65_537, 8), (1 << 40, 8), (u64::MAX, 8)] {
            let mut s = FrameScanner::new(125);
            let h = header(true, BINARY, len);
            // Followed by payload bytes that never come into question.
            let input = [h.clone(), vec![7; 100]].concat();
            let refused = scan_all(&mut s, &input, 1).unwrap_err();
            assert_eq!(
                refused.0,
                1 + length_bytes,
                "stops before the last length byte"
            );
            assert_eq!(
                refused.1,
                ReadRefused::TooLarge {
                    announced: len,
                    limit: 125
                }
            );
            assert!(s.scan(&[0]).is_err(), "a refusal is final");
        }
    }

    #[test]
    fn a_frame_of_exactly_the_limit_passes_in_each_length_form() {
        for limit in [125usize, 65_535, 65_536] {
            let mut s = FrameScanner::new(limit);
            let input = frame(true, BINARY, limit);
            assert_eq!(scan_all(&mut s, &input, 4096), Ok(vec![input.len()]));
        }
    }

    #[test]
    fn an_unmasked_header_is_refused_and_a_masked_one_passes() {
        let mut s = FrameScanner::new(1000);
        let refused = scan_all(&mut s, &[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'], 1);
        assert_eq!(
            refused,
            Err((1, ReadRefused::Protocol("an unmasked client frame")))
        );
        let mut s = FrameScanner::new(1000);
        assert_eq!(scan_all(&mut s, &frame(true, TEXT, 5), 1), Ok(vec![11]));
    }

    #[test]
    fn continuations_are_refused_once_their_running_total_passes_the_limit() {
        let mut input = frame(false, TEXT, 40);
        input.extend(frame(false, CONTINUATION, 40));
        let at_third = input.len();
        input.extend(header(true, CONTINUATION, 21));
        let mut s = FrameScanner::new(100);
        assert_eq!(
            scan_all(&mut s, &input, 5),
            Err((
                at_third + 1,
                ReadRefused::TooLarge {
                    announced: 101,
                    limit: 100
                }
            ))
        );
        // Exactly the limit in three fragments is one message.
        let mut input = frame(false, BINARY, 40);
        input.extend(frame(false, CONTINUATION, 40));
        input.extend(frame(true, CONTINUATION, 20));
        let mut s = FrameScanner::new(100);
        assert_eq!(scan_all(&mut s, &input, 5), Ok(vec![input.len()]));
        // The next message starts its own total.
        let next = frame(true, TEXT, 100);
        assert_eq!(scan_all(&mut s, &next, 5), Ok(vec![next.len()]));
    }

    #[test]
    fn control_frames_between_fragments_end_their_own_message_and_do_not_count_to_the_total() {
        let mut input = frame(false, TEXT, 60);
        input.extend(frame(true, PING, 125));
        let ping_end = input.len();
        input.extend(frame(true, CONTINUATION, 40));
        let mut s = FrameScanner::new(100);
        assert_eq!(scan_all(&mut s, &input, 9), Ok(vec![ping_end, input.len()]));
    }

    #[test]
    fn control_frames_over_125_bytes_or_fragmented_are_refused_at_their_header() {
        let mut s = FrameScanner::new(1 << 20);
        assert_eq!(
            scan_all(&mut s, &header(true, PING, 126), 1),
            Err((1, ReadRefused::Protocol("a control frame over 125 bytes")))
        );
        let mut s = FrameScanner::new(1 << 20);
        assert_eq!(
            scan_all(&mut s, &header(true, CLOSE, 1 << 40), 1),
            Err((1, ReadRefused::Protocol("a control frame over 125 bytes")))
        );
        let mut s = FrameScanner::new(1 << 20);
        assert_eq!(
            scan_all(&mut s, &header(false, PING, 0), 1),
            Err((0, ReadRefused::Protocol("a fragmented control frame")))
        );
    }

    #[test]
    fn reserved_bits_unknown_opcodes_and_misplaced_continuations_are_refused_at_the_first_byte() {
        let cases: [(Vec<u8>, &str); 5] = [
            (vec![0x80 | 0x40 | TEXT, 0x80], "reserved bits set"),
            (vec![0x80 | 0x10 | BINARY, 0x80], "reserved bits set"),
            (vec![0x80 | 0x3, 0x80], "unknown opcode"),
            (
                header(true, CONTINUATION, 0),
                "a continuation frame with no message to continue",
            ),
            (
                [frame(false, TEXT, 1), header(true, BINARY, 1)].concat(),
                "a new message inside a fragmented one",
            ),
        ];
        for (input, reason) in cases {
            let mut s = FrameScanner::new(1000);
            let (at, refused) = scan_all(&mut s, &input, 3).unwrap_err();
            assert_eq!(refused, ReadRefused::Protocol(reason));
            assert!(
                at == 0 || at == 7,
                "refused at the frame's first byte, not at {at}"
            );
        }
    }

    #[test]
    fn the_bytes_before_a_refused_byte_are_taken_in_the_same_call() {
        let mut input = frame(true, TEXT, 10);
        input.extend(header(true, TEXT, 1 << 40));
        let mut s = FrameScanner::new(1000);
        let first = s.scan(&input).unwrap();
        assert_eq!((first.used, first.message_ended), (16, true));
        let second = s.scan(&input[16..]).unwrap();
        assert_eq!(second.used, 9, "the header up to its last length byte");
        assert!(!second.frame_ended);
        assert!(matches!(
            s.scan(&input[25..]),
            Err(ReadRefused::TooLarge { .. })
        ));
    }
}
