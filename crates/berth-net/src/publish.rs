//! `-p [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]`, as docker reads it.

/// One published port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Host address to listen on; empty means every address.
    pub host_ip: String,
    /// Host port; 0 means any free one.
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
}

impl PortSpec {
    /// docker's key for the container side: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }
}

fn port(s: &str, spec: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port {s:?} in {spec:?}: a number from 1 to 65535"))
}

/// `80` or `8000-8002`.
fn range(s: &str, spec: &str) -> Result<Vec<u16>, String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a, spec)?, port(b, spec)?);
            if b < a {
                return Err(format!("invalid range {s:?} in {spec:?}"));
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![port(s, spec)?]),
    }
}

/// Parses one `-p` value into its ports (several for a range).
pub fn parse_publish(spec: &str) -> Result<Vec<PortSpec>, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(format!("invalid proto {proto:?} in {spec:?}: tcp or udp"));
    }
    // An IPv6 host address is written in brackets: [::1]:8080:80.
    let (host_ip, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r
                .split_once("]:")
                .ok_or_else(|| format!("invalid address in {spec:?}"))?;
            (ip.to_string(), after)
        }
        None => {
            let parts: Vec<&str> = rest.split(':').collect();
            match parts.len() {
                3 => (parts[0].to_string(), &rest[parts[0].len() + 1..]),
                _ => (String::new(), rest),
            }
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address {host_ip:?} in {spec:?}"));
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let container_ports = range(container, spec)?;
    let host_ports = if host.is_empty() {
        vec![0; container_ports.len()]
    } else {
        range(host, spec)?
    };
    if host_ports.len() != container_ports.len() && host_ports.len() != 1 {
        return Err(format!(
            "invalid ranges in {spec:?}: the host and container ranges differ in size"
        ));
    }
    Ok(container_ports
        .iter()
        .enumerate()
        .map(|(i, &c)| PortSpec {
            host_ip: host_ip.clone(),
            host_port: if host_ports.len() == 1 && container_ports.len() > 1 {
                0
            } else {
                host_ports[i]
            },
            container_port: c,
            proto: proto.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_forms() {
        let p = |s| parse_publish(s).unwrap();
        assert_eq!(
            p("8080:80")[0],
            PortSpec {
                host_ip: "".into(),
                host_port: 8080,
                container_port: 80,
                proto: "tcp".into()
            }
        );
        assert_eq!(p("127.0.0.1:8080:80")[0].host_ip, "127.0.0.1");
        assert_eq!(p("8080:80/udp")[0].proto, "udp");
        assert_eq!(p("80")[0].host_port, 0);
        assert_eq!(p("127.0.0.1::80")[0].host_port, 0);
        assert_eq!(p("[::1]:8080:80")[0].host_ip, "::1");
        let r = p("8000-8002:9000-9002");
        assert_eq!(r.len(), 3);
        assert_eq!((r[2].host_port, r[2].container_port), (8002, 9002));
        assert_eq!(p("9000-9001").len(), 2);
        assert!(parse_publish("8080:80/sctpx").is_err());
        assert!(parse_publish("99999:80").is_err());
        assert!(parse_publish("8000-8001:9000-9002").is_err());
        assert!(parse_publish("nothere:8080:80").is_err());
        assert!(parse_publish("").is_err());
    }
}
