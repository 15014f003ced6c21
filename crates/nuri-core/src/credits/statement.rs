//! Statements: what each provider served (what the sponsor owes it) and what each organisation
//! used, for a billing period, with totals reconciled against the ledger.

use serde::{Deserialize, Serialize};

/// A half-open time range `[from, to)` in Unix ms, named for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// `2026-11` for a calendar month in the billing time zone, else `from..to`.
    pub label: String,
    /// Start, Unix ms (inclusive).
    pub from: i64,
    /// End, Unix ms (exclusive).
    pub to: i64,
}

/// Why a period could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Not `YYYY-MM`.
    #[error("period must be a month like 2026-11, got {0:?}")]
    BadMonth(String),
    /// Unknown IANA zone.
    #[error("unknown time zone {0:?}")]
    BadZone(String),
    /// `to` not after `from`.
    #[error("the period must end after it starts")]
    Empty,
}

impl Period {
    /// The calendar month `YYYY-MM` in the IANA time zone `zone` (e.g. `Asia/Seoul`).
    pub fn month(month: &str, zone: &str) -> Result<Self, PeriodError> {
        let bad = || PeriodError::BadMonth(month.to_owned());
        let (y, m) = month.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i16 = y.parse().map_err(|_| bad())?;
        let mon: i8 = m.parse().map_err(|_| bad())?;
        let tz = jiff::tz::TimeZone::get(zone).map_err(|_| PeriodError::BadZone(zone.into()))?;
        let start = jiff::civil::date(year, 1, 1)
            .with()
            .month(mon)
            .build()
            .map_err(|_| bad())?;
        let end = start
            .checked_add(jiff::Span::new().months(1))
            .map_err(|_| bad())?;
        let at = |d: jiff::civil::Date| -> Result<i64, PeriodError> {
            d.to_zoned(tz.clone())
                .map(|z| z.timestamp().as_millisecond())
                .map_err(|_| bad())
        };
        Ok(Self {
            label: month.to_owned(),
            from: at(start)?,
            to: at(end)?,
        })
    }

    /// The current calendar month in `zone`, as `YYYY-MM`.
    pub fn current_month(zone: &str) -> Result<String, PeriodError> {
        let tz = jiff::tz::TimeZone::get(zone).map_err(|_| PeriodError::BadZone(zone.into()))?;
        let now = jiff::Timestamp::now().to_zoned(tz);
        Ok(format!("{:04}-{:02}", now.year(), now.month()))
    }

    /// An explicit range of Unix ms.
    pub fn range(from: i64, to: i64) -> Result<Self, PeriodError> {
        if to <= from {
            return Err(PeriodError::Empty);
        }
        Ok(Self {
            label: format!("{from}..{to}"),
            from,
            to,
        })
    }
}

/// One line of a provider statement: a provider's model over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLine {
    /// Provider name (from the config).
    pub provider: String,
    /// Upstream model name.
    pub upstream_model: String,
    /// Public model name.
    pub model: String,
    /// Requests that carried usage.
    pub requests: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Cost at the recorded prices, milli-won.
    pub cost: i64,
    /// Of that cost, what grants paid.
    pub paid_by_grants: i64,
}

/// One line of an organisation statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgLine {
    /// Organisation.
    pub org_id: String,
    /// The paying grant (null for free models).
    pub grant_id: Option<String>,
    /// Project.
    pub project_id: String,
    /// Public model name.
    pub model: String,
    /// Requests that carried usage.
    pub requests: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Cost, milli-won.
    pub cost: i64,
}

/// Ledger totals for the same period, to reconcile a statement with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTotals {
    /// Settled charges for requests recorded in the period, milli-won.
    pub settled: i64,
    /// Orphaned holds that expired in the period (charged at the held amount), milli-won.
    pub orphaned: i64,
    /// Refunds made in the period, milli-won.
    pub refunded: i64,
}

/// A statement: lines, totals, and the reconciliation with the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement<L> {
    /// `statement`.
    pub object: String,
    /// `provider` or `org`.
    pub kind: String,
    /// The period covered.
    pub period: Period,
    /// Currency of the amounts.
    pub currency: String,
    /// The lines.
    pub lines: Vec<L>,
    /// Sum of the lines' cost, milli-won.
    pub total_cost: i64,
    /// Sum of what grants paid for those lines, milli-won.
    pub total_paid_by_grants: i64,
    /// The ledger's totals for the period.
    pub ledger: LedgerTotals,
    /// True when what grants paid equals the ledger's settled charges.
    pub reconciled: bool,
}

/// A statement line: its kind, CSV columns, and money.
pub trait StatementLine {
    /// `provider` or `org`.
    const KIND: &'static str;
    /// CSV header after `period`: the key columns, then the numeric ones.
    const HEADER: &'static [&'static str];
    /// How many of the header's columns are numeric (the last ones).
    const NUMBERS: usize;
    /// The key cells (provider, model, …), in header order.
    fn keys(&self) -> Vec<String>;
    /// The numeric cells, in header order (they are summed in the TOTAL row).
    fn numbers(&self) -> Vec<i64>;
    /// The line's cost and the part of it grants paid, milli-won.
    fn cost_and_paid(&self) -> (i64, i64);
}

impl StatementLine for ProviderLine {
    const KIND: &'static str = "provider";
    const NUMBERS: usize = 5;
    const HEADER: &'static [&'static str] = &[
        "provider",
        "upstream_model",
        "model",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cost_milliwon",
        "paid_by_grants_milliwon",
    ];
    fn keys(&self) -> Vec<String> {
        vec![
            self.provider.clone(),
            self.upstream_model.clone(),
            self.model.clone(),
        ]
    }
    fn numbers(&self) -> Vec<i64> {
        vec![
            self.requests,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost,
            self.paid_by_grants,
        ]
    }
    fn cost_and_paid(&self) -> (i64, i64) {
        (self.cost, self.paid_by_grants)
    }
}

impl StatementLine for OrgLine {
    const KIND: &'static str = "org";
    const NUMBERS: usize = 4;
    const HEADER: &'static [&'static str] = &[
        "org_id",
        "grant_id",
        "project_id",
        "model",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cost_milliwon",
    ];
    fn keys(&self) -> Vec<String> {
        vec![
            self.org_id.clone(),
            self.grant_id.clone().unwrap_or_default(),
            self.project_id.clone(),
            self.model.clone(),
        ]
    }
    fn numbers(&self) -> Vec<i64> {
        vec![
            self.requests,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost,
        ]
    }
    fn cost_and_paid(&self) -> (i64, i64) {
        (
            self.cost,
            if self.grant_id.is_some() {
                self.cost
            } else {
                0
            },
        )
    }
}

impl<L: StatementLine> Statement<L> {
    /// Assembles a statement and checks it against the ledger.
    pub fn new(period: Period, lines: Vec<L>, ledger: LedgerTotals) -> Self {
        let (total_cost, total_paid_by_grants) = lines
            .iter()
            .map(L::cost_and_paid)
            .fold((0, 0), |(a, b), (c, p)| (a + c, b + p));
        Self {
            object: "statement".into(),
            kind: L::KIND.into(),
            period,
            currency: "KRW".into(),
            total_cost,
            total_paid_by_grants,
            reconciled: total_paid_by_grants == ledger.settled,
            ledger,
            lines,
        }
    }

    /// CSV: one row per line, then a TOTAL row summing the numeric columns.
    pub fn to_csv(&self) -> String {
        let period = || self.period.label.clone();
        let mut rows: Vec<Vec<String>> = self
            .lines
            .iter()
            .map(|l| {
                let mut row = vec![period()];
                row.extend(l.keys());
                row.extend(l.numbers().iter().map(i64::to_string));
                row
            })
            .collect();
        let mut sums = vec![0i64; L::NUMBERS];
        for l in &self.lines {
            for (sum, n) in sums.iter_mut().zip(l.numbers()) {
                *sum += n;
            }
        }
        let mut total = vec![period(), "TOTAL".to_owned()];
        total.extend(std::iter::repeat_n(
            String::new(),
            L::HEADER.len() - L::NUMBERS - 1,
        ));
        total.extend(sums.iter().map(i64::to_string));
        rows.push(total);
        let mut header = vec!["period"];
        header.extend_from_slice(L::HEADER);
        to_csv(&header, rows)
    }
}

/// Renders rows as CSV (RFC 4180 quoting) with a header line.
pub fn to_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        let line: Vec<String> = row.iter().map(|s| field(s)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seoul_month_starts_at_local_midnight() {
        let p = Period::month("2026-11", "Asia/Seoul").unwrap();
        // 2026-11-01T00:00+09:00 = 2026-10-31T15:00Z.
        assert_eq!(p.from, 1_793_458_800_000);
        assert_eq!(p.to - p.from, 30 * 86_400_000);
        let dec = Period::month("2026-12", "UTC").unwrap();
        assert_eq!(dec.to - dec.from, 31 * 86_400_000);
    }

    #[test]
    fn bad_periods_are_refused() {
        assert!(matches!(
            Period::month("2026-13", "UTC"),
            Err(PeriodError::BadMonth(_))
        ));
        assert!(matches!(
            Period::month("26-1", "UTC"),
            Err(PeriodError::BadMonth(_))
        ));
        assert!(matches!(
            Period::month("2026-01", "Mars/Base"),
            Err(PeriodError::BadZone(_))
        ));
        assert!(matches!(Period::range(5, 5), Err(PeriodError::Empty)));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let csv = to_csv(&["a", "b"], vec![vec!["x,y".into(), "say \"hi\"".into()]]);
        assert_eq!(csv, "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n");
    }
}
