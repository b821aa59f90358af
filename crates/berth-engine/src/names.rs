//! Docker-style random container names: `adjective_surname`, the surname of a
//! scientist or engineer. Our own lists.

use rand::seq::SliceRandom;

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "busy", "calm", "clever", "cool", "crisp", "curious",
    "daring", "eager", "earnest", "fancy", "fervent", "fond", "gallant", "gentle", "glad", "happy",
    "hardy", "hopeful", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid", "merry",
    "mellow", "modest", "nimble", "noble", "patient", "peaceful", "plucky", "polite", "proud",
    "quick", "quiet", "rapid", "ready", "serene", "sharp", "sleepy", "smart", "steady", "sunny",
    "swift", "tender", "tidy", "upbeat", "vibrant", "vigilant", "warm", "witty", "zealous",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "babbage",
    "bardeen",
    "bohr",
    "boole",
    "cannon",
    "cerf",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goodall",
    "hamilton",
    "hawking",
    "hodgkin",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "kowalevski",
    "lamarr",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "mirzakhani",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "payne",
    "planck",
    "ritchie",
    "sagan",
    "shannon",
    "somerville",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wilson",
    "wozniak",
    "wu",
];

pub fn random() -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{}_{}",
        ADJECTIVES.choose(&mut rng).unwrap(),
        SURNAMES.choose(&mut rng).unwrap()
    )
}

/// docker's rule for `--name`: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}
