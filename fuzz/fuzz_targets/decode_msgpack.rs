//! Feeds arbitrary bytes to the MessagePack decoders. Any panic is a bug; so is a frame that
//! decodes but does not survive being encoded and decoded again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneclass_protocol::command::RawCommand;
use oneclass_protocol::Codec;

fuzz_target!(|data: &[u8]| {
    let codec = Codec::MsgPack;
    if let Ok(frame) = codec.decode_command(data) {
        let again = codec.encode(&RawCommand::from(&frame));
        assert_eq!(codec.decode_command(&again).as_ref(), Ok(&frame));
    }
    let _ = codec.decode_server_frame(data);
});
