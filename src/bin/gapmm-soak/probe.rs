//! What the soak reads from the running engine: its metrics endpoint and its
//! resident memory.

use std::time::Duration;

/// The metrics the soak acts on, from one scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scrape {
    /// `gapmm_book_tradable`.
    pub tradable: bool,
    /// A working bid exists.
    pub working_bid: bool,
    /// A working ask exists.
    pub working_ask: bool,
    /// `gapmm_reconnects_total{link="public"}`.
    pub public_reconnects: u64,
    /// `gapmm_reconnects_total{link="orders"}`.
    pub orders_reconnects: u64,
    /// `gapmm_resyncs_total`.
    pub resyncs: u64,
    /// `gapmm_fills_total`.
    pub fills: u64,
    /// `gapmm_book_messages_total`.
    pub book_messages: u64,
    /// `gapmm_requests_total`.
    pub requests: u64,
    /// `gapmm_rejects_total`.
    pub rejects: u64,
}

impl Scrape {
    /// Reads the exposition text; a sample it does not know is ignored, a
    /// sample it needs and cannot read is an error naming it.
    pub fn parse(text: &str) -> Result<Scrape, String> {
        let mut s = Scrape::default();
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .ok_or_else(|| format!("metrics line without a value: {line}"))?;
            let v: f64 = value
                .parse()
                .map_err(|_| format!("metrics value not a number: {line}"))?;
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let n = v as u64;
            match name {
                "gapmm_book_tradable" => s.tradable = v == 1.0,
                "gapmm_resyncs_total" => s.resyncs = n,
                "gapmm_fills_total" => s.fills = n,
                "gapmm_book_messages_total" => s.book_messages = n,
                "gapmm_requests_total" => s.requests = n,
                "gapmm_rejects_total" => s.rejects = n,
                "gapmm_reconnects_total" if labels.contains("link=\"public\"") => {
                    s.public_reconnects = n
                }
                "gapmm_reconnects_total" if labels.contains("link=\"orders\"") => {
                    s.orders_reconnects = n
                }
                "gapmm_quote_price" if labels.contains("kind=\"working\"") => {
                    if labels.contains("side=\"bid\"") {
                        s.working_bid = true;
                    } else if labels.contains("side=\"ask\"") {
                        s.working_ask = true;
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// The engine quotes: the book is tradable and at least one order works
    /// (at the position limit only the reducing side is quoted).
    pub fn quoting(&self) -> bool {
        self.tradable && (self.working_bid || self.working_ask)
    }
}

/// Scrapes `url` once.
pub fn scrape(agent: &ureq::Agent, url: &str) -> Result<Scrape, String> {
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("GET {url}: {e}"))?;
    Scrape::parse(&text)
}

/// An agent for short loopback requests.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .no_delay(true)
        .build()
        .into()
}

/// Resident set size of a process in KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss(&text)
}

fn parse_vmrss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_engines_exposition() {
        let text = "# TYPE gapmm_book_tradable gauge\n\
            gapmm_book_tradable{symbol=\"BTCUSDT\"} 1\n\
            gapmm_reconnects_total{symbol=\"BTCUSDT\",link=\"public\"} 3\n\
            gapmm_reconnects_total{symbol=\"BTCUSDT\",link=\"orders\"} 5\n\
            gapmm_quote_price{symbol=\"BTCUSDT\",kind=\"wanted\",side=\"bid\"} 60000\n\
            gapmm_quote_price{symbol=\"BTCUSDT\",kind=\"working\",side=\"ask\"} 60000.1\n\
            gapmm_fills_total{symbol=\"BTCUSDT\"} 12\n";
        let s = Scrape::parse(text).unwrap();
        assert!(s.tradable && s.working_ask && !s.working_bid && s.quoting());
        assert_eq!(
            (s.public_reconnects, s.orders_reconnects, s.fills),
            (3, 5, 12)
        );
        assert!(Scrape::parse("gapmm_fills_total{} x\n").is_err());
        let not = Scrape::parse("gapmm_book_tradable{symbol=\"B\"} 0\n").unwrap();
        assert!(!not.quoting());
    }

    #[test]
    fn reads_vmrss() {
        let st = "Name:\tgapmm-hot\nVmPeak:\t  99 kB\nVmRSS:\t   12345 kB\nThreads: 4\n";
        assert_eq!(parse_vmrss(st), Some(12345));
        assert_eq!(parse_vmrss("Name: x\n"), None);
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
