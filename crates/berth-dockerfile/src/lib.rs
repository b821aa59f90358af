//! The Dockerfile language, with BuildKit's semantics and no container in sight.
//!
//! - [`parser`]: Dockerfile text to instructions (with line ranges, flags,
//!   heredocs and parser directives), and BuildKit's AST dump for conformance.
//! - [`shell`]: shell-word expansion (`$VAR`, `${VAR:-x}`, quoting, escapes).
//! - [`ignore`]: `.dockerignore` patterns and a matcher for walking a context.
//! - [`lint`]: best-practice checks with BuildKit's rule names.

pub mod ignore;
pub mod lint;
pub mod parser;
pub mod quote;
pub mod scope;
pub mod shell;

pub use parser::{parse, Dockerfile, Heredoc, Instruction, ParseError};
