//! Reading the Prometheus text exposition format back: what `/metrics`
//! serves, parsed into samples, with the sums and the histogram quantile
//! the demo's summary and `switchboard top` compute from it.
//!
//! Written here rather than taken from a crate: the format Switchboard
//! serves (metrics-exporter-prometheus) is the plain text format, one
//! `name{label="value",…} value` per line, and this reader is ~100 lines
//! with no dependency, where the parser crates pull in regex and a date
//! library for timestamps Switchboard never writes.

/// One sample: a metric name (histogram series keep their `_bucket`,
/// `_sum`, `_count` suffix), its labels, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name.
    pub name: String,
    /// Label names and values, in the order they were written.
    pub labels: Vec<(String, String)>,
    /// The value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// The samples, in the order they were served.
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the text format; lines that are not samples (comments,
    /// blank, malformed) are skipped.
    pub fn parse(text: &str) -> Self {
        Self {
            samples: text.lines().filter_map(parse_line).collect(),
        }
    }

    /// The samples of series `name`.
    pub fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The sum of series `name` over every label set (0 when absent).
    pub fn sum(&self, name: &str) -> f64 {
        self.series(name).map(|s| s.value).sum()
    }

    /// The sum of series `name` over the label sets where `label` is `value`.
    pub fn sum_where(&self, name: &str, label: &str, value: &str) -> f64 {
        self.series(name)
            .filter(|s| s.label(label) == Some(value))
            .map(|s| s.value)
            .sum()
    }

    /// Whether series `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.series(name).next().is_some()
    }

    /// The `q` quantile (0–1) of histogram `name` (its `_bucket` series,
    /// every label set added up), interpolated inside the bucket as
    /// Prometheus' `histogram_quantile` does; a quantile in the `+Inf`
    /// bucket is the highest finite bound. `None` with no observation.
    pub fn histogram_quantile(&self, name: &str, q: f64) -> Option<f64> {
        let bucket = format!("{name}_bucket");
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for s in self.series(&bucket) {
            let Some(le) = s.label("le").and_then(parse_value) else {
                continue;
            };
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, n)) => *n += s.value,
                None => buckets.push((le, s.value)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, n) in &buckets {
            if n >= rank {
                if le.is_infinite() {
                    return Some(lower);
                }
                let inside = n - below;
                let frac = if inside > 0.0 {
                    (rank - below) / inside
                } else {
                    1.0
                };
                return Some(lower + (le - lower) * frac);
            }
            (lower, below) = (le, n);
        }
        Some(lower)
    }
}

/// A value as the format writes it (`+Inf`, `-Inf`, `NaN` or a number).
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// One sample line: `name value [timestamp]` or `name{labels} value [ts]`.
fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let (labels, rest) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, rest)
        }
        None => {
            let end = line.find(char::is_whitespace)?;
            (&line[..end], Vec::new(), &line[end..])
        }
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name: name.trim().to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y\"z"} rest` → the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        let mut chars = s[eq + 1..].trim_start().strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        let after_quote = s[eq + 1..].trim_start();
        s = &after_quote[1 + end + 1..];
        labels.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP x_total things
# TYPE x_total counter
x_total{stage="parse"} 10
x_total{stage="sink",reason="a \"quoted\" one"} 5
plain_gauge 2.5
lat_bucket{le="0.01"} 0
lat_bucket{le="0.1"} 50
lat_bucket{le="1"} 100
lat_bucket{le="+Inf"} 100
lat_sum 20
lat_count 100
not a sample line
"#;

    #[test]
    fn samples_labels_and_sums_are_read() {
        let s = Scrape::parse(TEXT);
        assert_eq!(s.sum("x_total"), 15.0);
        assert_eq!(s.sum_where("x_total", "stage", "parse"), 10.0);
        let quoted = s.series("x_total").nth(1).unwrap();
        assert_eq!(quoted.label("reason"), Some("a \"quoted\" one"));
        assert_eq!(s.sum("plain_gauge"), 2.5);
        assert!(!s.has("absent"));
    }

    #[test]
    fn histogram_quantiles_interpolate_inside_the_bucket() {
        let s = Scrape::parse(TEXT);
        // Half the observations are ≤ 0.1: the median is that bound.
        let p50 = s.histogram_quantile("lat", 0.5).unwrap();
        assert!((p50 - 0.1).abs() < 1e-9, "{p50}");
        // The 99th is 98 % of the way through the (0.1, 1] bucket.
        let p99 = s.histogram_quantile("lat", 0.99).unwrap();
        assert!((p99 - (0.1 + 0.9 * 0.98)).abs() < 1e-9, "{p99}");
        assert_eq!(s.histogram_quantile("absent", 0.5), None);
        // Everything in +Inf: the highest finite bound.
        let inf = Scrape::parse("h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 3\n");
        assert_eq!(inf.histogram_quantile("h", 0.5), Some(1.0));
    }
}
