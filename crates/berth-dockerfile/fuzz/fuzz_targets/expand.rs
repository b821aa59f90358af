//! Any word: shell expansion (both modes) must return, never panic or hang.
#![no_main]

use berth_dockerfile::shell::Lex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(word) = std::str::from_utf8(data) {
        let env = |name: &str| match name {
            "A" => Some("value with spaces".to_string()),
            "E" => Some(String::new()),
            _ => None,
        };
        let lex = Lex::new('\\');
        let _ = lex.process_word(word, &env);
        let _ = lex.process_words(word, &env);
        let mut raw = Lex::new('`');
        raw.raw_quotes = true;
        raw.raw_escapes = true;
        raw.skip_unset = true;
        let _ = raw.process_words(word, &env);
    }
});
