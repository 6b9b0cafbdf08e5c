//! Feeds arbitrary bytes to `MentionParser::push`.
//!
//! The first byte picks a small record-size limit (to exercise `too_large`)
//! and how often to call `finish()`; the rest is split on 0x1E (record
//! separator) into several records, so state carried between records
//! (scratch buffer, tape, builders) is exercised too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_operators::parse::{MentionParser, ParseConfig, SourceMeta};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let max_record_bytes = if ctl & 0x80 != 0 { usize::from(ctl & 0x3f) * 16 } else { 64 * 1024 };
    let finish_every = usize::from(ctl & 0x07) + 1;
    let mut parser = MentionParser::new(ParseConfig { max_record_bytes });
    let meta = SourceMeta { topic: "mentions", partition: 0, offset: 0 };
    let mut expected = 0usize;
    for (i, record) in rest.split(|&b| b == 0x1e).enumerate() {
        let before = parser.rows();
        match parser.push(record, &meta, 0) {
            Ok(n) => {
                assert_eq!(parser.rows(), before + n as usize);
                expected += n as usize;
            }
            Err(r) => {
                assert_eq!(parser.rows(), before);
                assert!(r.detail.len() <= 200);
            }
        }
        if i % finish_every == finish_every - 1 {
            assert_eq!(parser.finish().num_rows(), expected);
            expected = 0;
        }
    }
    assert_eq!(parser.finish().num_rows(), expected);
});
