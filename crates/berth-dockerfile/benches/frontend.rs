//! Parsing is never the slow part of a build: parse + lint of a 2,000-line
//! Dockerfile (target: under 5 ms), and .dockerignore matching over a
//! 100,000-file context (target: under 100 ms).

use berth_dockerfile::ignore::Matcher;
use berth_dockerfile::lint::{lint, Options};
use criterion::{criterion_group, criterion_main, Criterion};

/// A 2,000-line Dockerfile of realistic instructions, continuations and stages.
fn big_dockerfile() -> String {
    let mut s = String::from("# syntax=docker/dockerfile:1\nARG PY=3.12.1\n");
    let mut stage = 0;
    while s.lines().count() < 2000 {
        s.push_str(&format!("FROM python:${{PY}}-slim AS stage{stage}\nWORKDIR /app\nENV A=1 B=\"two words\" C=$A\n"));
        s.push_str("RUN apt-get update \\\n    && apt-get install -y --no-install-recommends curl ca-certificates \\\n    && rm -rf /var/lib/apt/lists/*\n");
        s.push_str("COPY requirements.txt .\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n");
        s.push_str("COPY --chown=app:app . .\nLABEL org.opencontainers.image.title=\"app\" version=\"1.0\"\nEXPOSE 8000/tcp\n");
        s.push_str("HEALTHCHECK --interval=30s CMD wget -qO- localhost:8000 || exit 1\nUSER app\nCMD [\"python\", \"-m\", \"app\"]\n");
        stage += 1;
    }
    s
}

/// 100,000 context paths in a tree like a monorepo's.
fn context_paths() -> Vec<String> {
    let mut out = Vec::with_capacity(100_000);
    for i in 0..100_000 {
        let top = ["src", "node_modules", "target", "docs", ".git", "tests"][i % 6];
        out.push(format!(
            "{top}/pkg{}/mod{}/file{i}.{}",
            i % 97,
            i % 13,
            ["rs", "js", "md", "pyc", "o"][i % 5]
        ));
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = big_dockerfile();
    assert!(text.lines().count() >= 2000);
    c.bench_function("parse + lint 2000-line Dockerfile", |b| {
        b.iter(|| {
            let df = berth_dockerfile::parse(&text).unwrap();
            lint(&df, &Options::default())
        })
    });
    let matcher = Matcher::new(&[
        "node_modules",
        "target",
        ".git",
        "**/*.pyc",
        "docs/**/*.md",
        "!docs/pkg1/**/README.md",
        "*.o",
        "**/*.o",
    ])
    .unwrap();
    let paths = context_paths();
    c.bench_function(".dockerignore over 100000 paths", |b| {
        b.iter(|| paths.iter().filter(|p| matcher.excluded(p)).count())
    });
}

criterion_group! {
    name = frontend;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(frontend);
