//! Validation errors with their place in the file, rendered with miette.
//!
//! The validator collects every problem it finds into [`Diagnostics`]: each
//! [`Diagnostic`] holds a typed [`RuleError`], the byte span of the offending
//! text and, where useful, a second span ("first defined here"). They render
//! as miette reports (`[file:line:col]` header, the line, the text underlined)
//! and as one-line `file:line:col: message` summaries.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use std::fmt;
use std::ops::Range;

/// What is wrong with a rules file. Each variant's text is the message a traffic engineer reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The file is not valid TOML, or a field has the wrong type or name.
    #[error("syntax: {message}")]
    Syntax {
        /// The TOML parser's message.
        message: String,
    },
    /// A lane id that the map does not have.
    #[error("unknown lane `{lane}`: map {map} has no such lane")]
    UnknownLane {
        /// The lane id as written.
        lane: String,
        /// The short version of the map checked against.
        map: String,
    },
    /// A vehicle class name that is not known.
    #[error(
        "unknown vehicle class `{name}`; known: all, car, bus, truck, taxi, cyclist, pedestrian, emergency, automated"
    )]
    UnknownClass {
        /// The name as written.
        name: String,
    },
    /// A time window whose start equals its end.
    #[error("empty time window `{text}`: it ends when it starts")]
    EmptyTimeWindow {
        /// The window as written.
        text: String,
    },
    /// A time window whose end is before its start.
    #[error("inverted time window `{text}`: it ends before it starts")]
    InvertedTimeWindow {
        /// The window as written.
        text: String,
    },
    /// A time window that is not `HH:MM-HH:MM` with real times of day.
    #[error("bad time window `{text}`: {reason}")]
    BadTimeWindow {
        /// The window as written.
        text: String,
        /// Why.
        reason: String,
    },
    /// A date that does not exist or is not `YYYY-MM-DD`.
    #[error("impossible date `{text}`: {reason}")]
    ImpossibleDate {
        /// The date as written.
        text: String,
        /// Why.
        reason: String,
    },
    /// A date range whose end is before its start.
    #[error("inverted date range `{text}`: it ends before it starts")]
    InvertedDateRange {
        /// The range as written.
        text: String,
    },
    /// Weekdays that cannot be read, or an empty weekday set.
    #[error("bad weekdays `{text}`: write e.g. \"mon-fri\", \"sat,sun\", \"weekdays\", \"weekend\" or \"daily\"")]
    BadWeekdays {
        /// The weekdays as written.
        text: String,
    },
    /// A `validity.calendar` that is not defined under `[calendars]`.
    #[error("unknown calendar `{name}`")]
    UnknownCalendar {
        /// The calendar name.
        name: String,
    },
    /// Two rules with equal precedence that say different things for the same lane, class and time.
    #[error("rule `{rule}` contradicts rule `{other}`: both set the {slot} for the same lane, class and time with equal precedence")]
    Contradiction {
        /// The later rule.
        rule: String,
        /// The earlier rule.
        other: String,
        /// The answer slot they both fill (e.g. `speed limit`).
        slot: String,
    },
    /// A speed limit outside the accepted range.
    #[error("speed limit {value} km/h is out of range {min}..={max} km/h")]
    SpeedOutOfRange {
        /// The limit as written.
        value: i64,
        /// Lowest accepted.
        min: u16,
        /// Highest accepted.
        max: u16,
    },
    /// Two rules with the same id.
    #[error("duplicate rule id `{id}`")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// An IANA time zone name that is not in the tz database.
    #[error("unknown time zone `{name}` (use an IANA name such as \"Europe/Berlin\")")]
    UnknownTimeZone {
        /// The name as written.
        name: String,
    },
    /// No `time_zone` in the file and none in the map.
    #[error("missing `time_zone`: the map has none, so the rules file must name the intersection's IANA time zone")]
    MissingTimeZone,
    /// A required field is absent.
    #[error("missing `{field}`")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A value that is not acceptable for its field (the reason in words).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// A manoeuvre name that is not known.
    #[error("unknown manoeuvre `{name}`; known: left, right, straight, u_turn")]
    UnknownManoeuvre {
        /// The name as written.
        name: String,
    },
    /// A rule with no effect or more than one.
    #[error("a rule has exactly one effect; this one has {count} (write one rule per effect)")]
    EffectCount {
        /// How many effects were written.
        count: usize,
    },
}

impl RuleError {
    /// A stable short code for the error (shown in reports, listed in docs/rules.md).
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Syntax { .. } => "rules::syntax",
            RuleError::UnknownLane { .. } => "rules::unknown_lane",
            RuleError::UnknownClass { .. } => "rules::unknown_class",
            RuleError::EmptyTimeWindow { .. } => "rules::empty_window",
            RuleError::InvertedTimeWindow { .. } => "rules::inverted_window",
            RuleError::BadTimeWindow { .. } => "rules::bad_window",
            RuleError::ImpossibleDate { .. } => "rules::impossible_date",
            RuleError::InvertedDateRange { .. } => "rules::inverted_dates",
            RuleError::BadWeekdays { .. } => "rules::bad_weekdays",
            RuleError::UnknownCalendar { .. } => "rules::unknown_calendar",
            RuleError::Contradiction { .. } => "rules::contradiction",
            RuleError::SpeedOutOfRange { .. } => "rules::speed_out_of_range",
            RuleError::DuplicateId { .. } => "rules::duplicate_id",
            RuleError::UnknownTimeZone { .. } => "rules::unknown_time_zone",
            RuleError::MissingTimeZone => "rules::missing_time_zone",
            RuleError::Missing { .. } => "rules::missing_field",
            RuleError::Invalid { .. } => "rules::invalid",
            RuleError::UnknownManoeuvre { .. } => "rules::unknown_manoeuvre",
            RuleError::EffectCount { .. } => "rules::effect_count",
        }
    }
}

/// One problem, placed in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong.
    pub error: RuleError,
    /// Byte span of the offending text.
    pub span: Range<usize>,
    /// The label under the offending text.
    pub label: String,
    /// Other places that explain it (e.g. the first definition of a duplicate id).
    pub related: Vec<(Range<usize>, String)>,
    /// A hint for fixing it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span` labelled `label`.
    pub fn new(error: RuleError, span: Range<usize>, label: impl Into<String>) -> Self {
        Diagnostic { error, span, label: label.into(), related: Vec::new(), help: None }
    }

    /// Adds a related span.
    pub fn with_related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one file (never empty when returned as an error).
#[derive(Debug, Clone)]
pub struct Diagnostics {
    source: NamedSource<String>,
    file_name: String,
    /// The problems, in file order.
    pub items: Vec<Diagnostic>,
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

impl Diagnostics {
    /// Wraps the problems found in `source` (named `file_name`), sorting them by position.
    pub fn new(file_name: &str, source: &str, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|d| (d.span.start, d.span.end));
        Diagnostics { source: NamedSource::new(file_name, source.to_owned()), file_name: file_name.to_owned(), items }
    }

    /// The file name used in locations.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// `(line, col)` of a diagnostic's start, 1-based.
    pub fn line_col(&self, d: &Diagnostic) -> (usize, usize) {
        line_col(self.source.inner(), d.span.start)
    }

    /// `file:line:col` of a diagnostic's start.
    pub fn location(&self, d: &Diagnostic) -> String {
        let (l, c) = self.line_col(d);
        format!("{}:{l}:{c}", self.file_name)
    }

    /// One line per problem: `file:line:col: error[code]: message`.
    pub fn summary_lines(&self) -> Vec<String> {
        self.items.iter().map(|d| format!("{}: error[{}]: {}", self.location(d), d.error.code(), d.error)).collect()
    }

    /// Every problem as a miette report: the `[file:line:col]` header, the
    /// source line and the offending text underlined. `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        for d in &self.items {
            let view = Located { d, source: &self.source };
            if handler.render_report(&mut out, &view).is_err() {
                out.push_str(&format!("{}: {}\n", self.location(d), d.error));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "{} error{} in {}\n",
            self.items.len(),
            if self.items.len() == 1 { "" } else { "s" },
            self.file_name
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error(s) in {}", self.items.len(), self.file_name)?;
        for line in self.summary_lines() {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// One diagnostic with its source, as miette wants it.
struct Located<'a> {
    d: &'a Diagnostic,
    source: &'a NamedSource<String>,
}

impl fmt::Debug for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.d, f)
    }
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.d.error, f)
    }
}

impl std::error::Error for Located<'_> {}

impl miette::Diagnostic for Located<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.d.error.code()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.d.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let main = LabeledSpan::new_primary_with_span(Some(self.d.label.clone()), self.d.span.clone());
        let rest = self.d.related.iter().map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), s.clone()));
        Some(Box::new(std::iter::once(main).chain(rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let t = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, t.find('=').unwrap()), (1, 3));
        assert_eq!(line_col(t, t.find("\"x").unwrap()), (2, 6));
    }

    #[test]
    fn render_names_file_line_col_and_underlines() {
        let src = "x = 1\nid = \"dup\"\n";
        let d = Diagnostic::new(RuleError::DuplicateId { id: "dup".into() }, 11..16, "second here");
        let ds = Diagnostics::new("r.toml", src, vec![d]);
        let out = ds.render(false);
        assert!(out.contains("r.toml:2:6"), "{out}");
        assert!(out.contains("duplicate rule id `dup`"), "{out}");
        assert!(out.contains("─┬─") || out.contains("^^^"), "underline missing:\n{out}");
        assert_eq!(ds.summary_lines(), vec!["r.toml:2:6: error[rules::duplicate_id]: duplicate rule id `dup`"]);
    }
}
