//! Import errors and the import report (warnings for what was deliberately skipped).
//!
//! Every error names the file, the line and the element (tag and id) it is about. Where
//! skipping an element is the right call (an unsupported regulatory element, a SUMO walking
//! area), the importer records a [`Warning`] in the [`ImportReport`] instead: nothing is
//! dropped silently.

use serde::Serialize;
use std::fmt;

/// Where in a source file something is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// File name (as given to the importer).
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// Element tag, e.g. `lane`, `connection`, `geometry`.
    pub element: String,
    /// The element's id (or the nearest enclosing id), if any.
    pub id: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{}:{}: <{} id=\"{}\">", self.file, self.line, self.element, id),
            None => write!(f, "{}:{}: <{}>", self.file, self.line, self.element),
        }
    }
}

/// Why a map could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The XML itself is malformed.
    #[error("{file}:{line}: malformed XML: {message}")]
    Xml {
        /// File name.
        file: String,
        /// 1-based line.
        line: u32,
        /// Parser message.
        message: String,
    },
    /// A required attribute is missing.
    #[error("{at}: missing attribute `{attribute}`")]
    MissingAttribute {
        /// Where.
        at: Box<Location>,
        /// Attribute name.
        attribute: &'static str,
    },
    /// An attribute has a value we cannot use.
    #[error("{at}: attribute `{attribute}`=\"{value}\": {reason}")]
    BadAttribute {
        /// Where.
        at: Box<Location>,
        /// Attribute name.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A reference to a lane, road, node or element that does not exist.
    #[error("{at}: refers to unknown {kind} `{target}`")]
    Dangling {
        /// Where.
        at: Box<Location>,
        /// What kind of thing was referenced.
        kind: &'static str,
        /// The missing id.
        target: String,
    },
    /// A construct we do not support (and cannot skip safely).
    #[error("{at}: unsupported {what}")]
    Unsupported {
        /// Where.
        at: Box<Location>,
        /// What.
        what: String,
    },
    /// The file as a whole is unusable (e.g. no lanes at all, wrong root element).
    #[error("{file}: {message}")]
    Invalid {
        /// File name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The format cannot be told from the file name.
    #[error("{file}: unknown map format (expected .net.xml, .net.xml.gz, .xodr, .osm or .hdmap.json)")]
    UnknownFormat {
        /// File name.
        file: String,
    },
    /// Reading the file failed.
    #[error("{file}: {source}")]
    Io {
        /// File name.
        file: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// One thing an importer skipped or approximated, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Where.
    pub at: Location,
    /// What was skipped and why.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What an import did beside producing the map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Everything skipped or approximated, in file order.
    pub warnings: Vec<Warning>,
}

impl ImportReport {
    /// Records a warning.
    pub fn warn(&mut self, at: Location, message: impl Into<String>) {
        self.warnings.push(Warning { at, message: message.into() });
    }
}

/// Line numbers from byte offsets, for parsers that report positions as offsets.
#[derive(Debug)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &[u8]) -> Self {
        let mut starts = vec![0];
        starts.extend(text.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// 1-based line of byte offset `pos`.
    pub(crate) fn line(&self, pos: usize) -> u32 {
        let i = match self.starts.binary_search(&pos) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        u32::try_from(i + 1).unwrap_or(u32::MAX)
    }
}
