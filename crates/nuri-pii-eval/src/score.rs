//! Scoring: per-label and micro precision/recall/F1, by exact span and by overlap, and the
//! false-alarm rate on hard negatives.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use nuri_pii::{Label, Scanner};

use crate::gen::Doc;

/// True/false positives and false negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Predicted and right.
    pub tp: usize,
    /// Predicted, not in the gold set.
    pub fp: usize,
    /// In the gold set, not predicted.
    pub fn_: usize,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    /// Precision (1.0 when nothing was predicted).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Recall (1.0 when nothing was expected).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// F1.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// A scoring report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Documents scored.
    pub docs: usize,
    /// Bytes scanned.
    pub bytes: usize,
    /// Per label, exact span match.
    pub exact: BTreeMap<Label, Counts>,
    /// Per label, overlap match.
    pub overlap: BTreeMap<Label, Counts>,
    /// Hard negatives seen.
    pub negatives: usize,
    /// Hard negatives overlapped by any predicted span.
    pub false_alarms: usize,
    /// False alarms per hard-negative kind.
    pub alarm_kinds: BTreeMap<&'static str, (usize, usize)>,
    /// A few mistakes, for reading.
    pub examples: Vec<String>,
}

impl Report {
    /// Micro-averaged counts over all labels.
    pub fn micro(&self, exact: bool) -> Counts {
        let m = if exact { &self.exact } else { &self.overlap };
        let mut c = Counts::default();
        for v in m.values() {
            c.add(*v);
        }
        c
    }

    /// Micro-averaged counts over the checksum-bearing labels only.
    pub fn micro_checksum(&self, exact: bool) -> Counts {
        let m = if exact { &self.exact } else { &self.overlap };
        let mut c = Counts::default();
        for (l, v) in m {
            if l.has_checksum() {
                c.add(*v);
            }
        }
        c
    }

    /// Fraction of hard negatives that were flagged.
    pub fn false_alarm_rate(&self) -> f64 {
        if self.negatives == 0 {
            0.0
        } else {
            self.false_alarms as f64 / self.negatives as f64
        }
    }

    /// A Markdown table of the figures.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| label | gold | P exact | R exact | F1 exact | P overlap | R overlap | F1 overlap |"
        );
        let _ = writeln!(
            s,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        let row = |s: &mut String, name: &str, e: Counts, o: Counts| {
            let _ = writeln!(
                s,
                "| {name} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |",
                e.tp + e.fn_,
                e.precision(),
                e.recall(),
                e.f1(),
                o.precision(),
                o.recall(),
                o.f1()
            );
        };
        for l in Label::ALL {
            let e = self.exact.get(&l).copied().unwrap_or_default();
            let o = self.overlap.get(&l).copied().unwrap_or_default();
            row(&mut s, l.as_str(), e, o);
        }
        row(
            &mut s,
            "**micro (checksum labels)**",
            self.micro_checksum(true),
            self.micro_checksum(false),
        );
        row(
            &mut s,
            "**micro (all)**",
            self.micro(true),
            self.micro(false),
        );
        let _ = writeln!(
            s,
            "\nHard negatives: {} flagged of {} ({:.3}%). Documents: {}, {} bytes.",
            self.false_alarms,
            self.negatives,
            100.0 * self.false_alarm_rate(),
            self.docs,
            self.bytes
        );
        let _ = writeln!(
            s,
            "\n| hard negative | seen | flagged |\n| --- | ---: | ---: |"
        );
        for (k, (seen, flagged)) in &self.alarm_kinds {
            let _ = writeln!(s, "| {k} | {seen} | {flagged} |");
        }
        s
    }
}

/// Scans and scores `docs`.
pub fn score(scanner: &Scanner, docs: &[Doc]) -> Report {
    let mut rep = Report {
        docs: docs.len(),
        ..Report::default()
    };
    for l in Label::ALL {
        rep.exact.insert(l, Counts::default());
        rep.overlap.insert(l, Counts::default());
    }
    for d in docs {
        rep.bytes += d.text.len();
        let pred = scanner.scan(&d.text);
        let overlaps = |a: (usize, usize), b: (usize, usize)| a.0 < b.1 && b.0 < a.1;
        for g in &d.gold {
            let exact = pred
                .iter()
                .any(|p| p.label == g.label && p.start == g.start && p.end == g.end);
            let over = pred
                .iter()
                .any(|p| p.label == g.label && overlaps((p.start, p.end), (g.start, g.end)));
            let e = rep.exact.entry(g.label).or_default();
            if exact {
                e.tp += 1
            } else {
                e.fn_ += 1
            }
            let o = rep.overlap.entry(g.label).or_default();
            if over {
                o.tp += 1
            } else {
                o.fn_ += 1
            }
            if !exact && rep.examples.len() < 40 {
                let got: Vec<String> = pred
                    .iter()
                    .filter(|p| overlaps((p.start, p.end), (g.start, g.end)))
                    .map(|p| format!("{}:{:?}", p.label, p.text(&d.text)))
                    .collect();
                rep.examples.push(format!(
                    "MISS {} {:?} got {:?} in {:?}",
                    g.label,
                    &d.text[g.start..g.end],
                    got,
                    d.text
                ));
            }
        }
        for p in &pred {
            let exact = d
                .gold
                .iter()
                .any(|g| p.label == g.label && p.start == g.start && p.end == g.end);
            let over = d
                .gold
                .iter()
                .any(|g| p.label == g.label && overlaps((p.start, p.end), (g.start, g.end)));
            if !exact {
                rep.exact.entry(p.label).or_default().fp += 1;
            }
            if !over {
                rep.overlap.entry(p.label).or_default().fp += 1;
                if rep.examples.len() < 40 {
                    rep.examples.push(format!(
                        "FALSE {} {:?} in {:?}",
                        p.label,
                        p.text(&d.text),
                        d.text
                    ));
                }
            }
        }
        for n in &d.negatives {
            let hit = pred
                .iter()
                .any(|p| overlaps((p.start, p.end), (n.start, n.end)));
            rep.negatives += 1;
            let k = rep.alarm_kinds.entry(n.kind).or_default();
            k.0 += 1;
            if hit {
                rep.false_alarms += 1;
                k.1 += 1;
            }
        }
    }
    rep
}
