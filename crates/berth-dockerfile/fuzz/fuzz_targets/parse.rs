//! Any text: parse, validate, lint and dump must return, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(df) = berth_dockerfile::parse(text) {
            let _ = berth_dockerfile::parser::validate(&df);
            let _ = berth_dockerfile::lint::lint(&df, &Default::default());
            let _ = df.dump();
        }
        let _ = berth_dockerfile::ignore::Matcher::from_text(text).map(|m| m.excluded("a/b/c.txt"));
    }
});
