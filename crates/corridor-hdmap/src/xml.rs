//! Small helpers over roxmltree for the DOM importers: UTF-8 and parse errors with lines,
//! locations of nodes, typed attribute access that names the element on failure.

use roxmltree::{Document, Node, ParsingOptions};

use crate::error::{ImportError, Location};

/// Parses `bytes` as an XML document (UTF-8), with DTDs allowed and a node limit.
pub(crate) fn parse<'a>(file: &str, text: &'a str) -> Result<Document<'a>, ImportError> {
    let opts = ParsingOptions { allow_dtd: true, nodes_limit: 50_000_000 };
    Document::parse_with_options(text, opts).map_err(|e| ImportError::Xml {
        file: file.to_owned(),
        line: e.pos().row,
        message: e.to_string(),
    })
}

/// `bytes` as UTF-8, or an error naming the line of the first bad byte.
pub(crate) fn utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, ImportError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        ImportError::Xml {
            file: file.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            message: format!("not UTF-8: {e}"),
        }
    })
}

/// Where a node is, for messages: its tag, line and id (or the nearest ancestor's id).
pub(crate) fn loc(file: &str, n: Node<'_, '_>) -> Location {
    let line = n.document().text_pos_at(n.range().start).row;
    let id = n.ancestors().find_map(|a| a.attribute("id")).map(str::to_owned);
    Location { file: file.to_owned(), line, element: n.tag_name().name().to_owned(), id }
}

/// A required attribute.
pub(crate) fn req<'a>(file: &str, n: Node<'a, '_>, k: &'static str) -> Result<&'a str, ImportError> {
    n.attribute(k).ok_or_else(|| ImportError::MissingAttribute { at: Box::new(loc(file, n)), attribute: k })
}

/// An optional finite number.
pub(crate) fn opt_f64(file: &str, n: Node<'_, '_>, k: &'static str) -> Result<Option<f64>, ImportError> {
    match n.attribute(k) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(ImportError::BadAttribute {
                at: Box::new(loc(file, n)),
                attribute: k,
                value: v.chars().take(200).collect(),
                reason: "not a finite number".into(),
            }),
        },
    }
}

/// A required finite number.
pub(crate) fn f64_req(file: &str, n: Node<'_, '_>, k: &'static str) -> Result<f64, ImportError> {
    opt_f64(file, n, k)?.ok_or_else(|| ImportError::MissingAttribute { at: Box::new(loc(file, n)), attribute: k })
}

/// A finite number, defaulting when absent.
pub(crate) fn f64_or(file: &str, n: Node<'_, '_>, k: &'static str, default: f64) -> Result<f64, ImportError> {
    Ok(opt_f64(file, n, k)?.unwrap_or(default))
}

/// Element children with tag `name`.
pub(crate) fn children<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The first element child with tag `name`.
pub(crate) fn child<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(n, name).next()
}

/// A bad-attribute error.
pub(crate) fn bad(file: &str, n: Node<'_, '_>, k: &'static str, v: &str, reason: impl Into<String>) -> ImportError {
    ImportError::BadAttribute {
        at: Box::new(loc(file, n)),
        attribute: k,
        value: v.chars().take(200).collect(),
        reason: reason.into(),
    }
}
