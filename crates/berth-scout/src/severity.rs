//! Severity: a CVSS v3 or v4 vector's computed base score, or the rating a
//! record gives itself, on docker scout's scale.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unspecified,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unspecified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Unspecified => "unspecified",
        }
    }

    /// A rating as records write it (`HIGH`, GitHub's `MODERATE`, Ubuntu's
    /// `negligible`).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" => Severity::Low,
            "unspecified" | "unknown" | "unimportant" | "none" => Severity::Unspecified,
            _ => return None,
        })
    }

    /// CVSS's qualitative rating of a base score.
    pub fn of_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unspecified,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The base score of a CVSS v3.0, v3.1 or v4.0 vector; `None` for anything
/// else (v2, or a vector that does not parse).
pub fn cvss_score(vector: &str) -> Option<f64> {
    let v = cvss::Cvss::from_str(vector.trim()).ok()?;
    Some(v.score())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_vectors() {
        // Log4Shell: 10.0 in v3.1.
        let s = cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H").unwrap();
        assert_eq!(s, 10.0);
        let s = cvss_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N").unwrap();
        assert_eq!(s, 5.9);
        let s =
            cvss_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!(s, 9.3);
        assert!(cvss_score("AV:N/AC:L/Au:N/C:P/I:P/A:P").is_none());
        assert_eq!(Severity::of_score(9.3), Severity::Critical);
        assert_eq!(Severity::of_score(5.9), Severity::Medium);
        assert_eq!(Severity::parse("MODERATE"), Some(Severity::Medium));
    }
}
