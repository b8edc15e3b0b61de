//! A horizontal bar chart as inline SVG (feature importance on model cards).

use std::fmt::Write as _;

use crate::html::escape;

/// At most this many bars; the rest are summed into one "other" bar.
pub const MAX_BARS: usize = 20;

/// Bars for `(label, value)` pairs, largest first as given; `measure` names the axis.
/// Values must be non-negative; an empty input gives an empty string.
pub fn bar_chart(items: &[(String, f64)], measure: &str) -> String {
    let mut bars: Vec<(String, f64)> = items
        .iter()
        .filter(|(_, v)| v.is_finite() && *v >= 0.0)
        .cloned()
        .collect();
    if bars.is_empty() {
        return String::new();
    }
    if bars.len() > MAX_BARS {
        let rest: f64 = bars[MAX_BARS - 1..].iter().map(|(_, v)| v).sum();
        let others = bars.len() - (MAX_BARS - 1);
        bars.truncate(MAX_BARS - 1);
        bars.push((format!("{others} others"), rest));
    }
    let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let label_chars = bars
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (label_chars.min(32) * 7 + 12) as f64;
    let bar_w = 360.0;
    let row = 22.0;
    let top = 24.0;
    let width = label_w + bar_w + 90.0;
    let height = top + row * bars.len() as f64 + 6.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">",
        escape(measure)
    );
    let _ = writeln!(
        out,
        "<text x=\"{label_w}\" y=\"14\" style=\"fill:#5b6670\">{}</text>",
        escape(measure)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let w = if max > 0.0 { bar_w * value / max } else { 0.0 };
        let shown: String = if label.chars().count() > 32 {
            label.chars().take(31).collect::<String>() + "…"
        } else {
            label.clone()
        };
        let _ = writeln!(
            out,
            "<g><title>{}: {}</title>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" fill=\"#1f6feb\" rx=\"2\"/>\
             <text x=\"{:.1}\" y=\"{}\">{}</text></g>",
            escape(label),
            number(*value),
            label_w - 6.0,
            y + 14.0,
            escape(&shown),
            y + 3.0,
            row - 6.0,
            label_w + w + 5.0,
            y + 14.0,
            number(*value)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A short, readable number: integers as such, others with 4 significant digits.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e-3 && v.abs() < 1e6 {
        let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest() {
        let svg = bar_chart(
            &[("bill <mm>".into(), 10.0), ("flipper".into(), 5.0)],
            "splits",
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("bill &lt;mm&gt;"));
        assert!(svg.contains("width=\"360.0\"") && svg.contains("width=\"180.0\""));
        assert_eq!(bar_chart(&[], "splits"), "");
    }

    #[test]
    fn long_tails_are_summed() {
        let items: Vec<_> = (0..30)
            .map(|i| (format!("f{i}"), 30.0 - i as f64))
            .collect();
        let svg = bar_chart(&items, "gain");
        assert_eq!(svg.matches("<rect").count(), MAX_BARS);
        assert!(svg.contains("11 others"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(1234.5678), "1235");
        assert_eq!(number(1.5e-7), "1.500e-7");
    }
}
