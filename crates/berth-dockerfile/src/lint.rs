//! Lint rules (filled in below).
