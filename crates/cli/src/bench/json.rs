//! Just enough JSON (RFC 8259) to write a benchmark's results: objects, arrays, strings,
//! numbers.

use core::fmt::Write;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// A number; NaN and the infinities, which JSON lacks, are written as `null`.
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    /// Keys in the order given.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(key, value)` pairs.
    pub(crate) fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value, indented by two spaces per level.
    pub(crate) fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| out.extend(core::iter::repeat_n("  ", d));
        match self {
            Json::Num(n) if !n.is_finite() => out.push_str("null"),
            Json::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Str(s) => string(out, s),
            Json::Arr(items) if items.iter().all(|i| !matches!(i, Json::Arr(_) | Json::Obj(_))) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push(']');
            }
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Obj(pairs) => {
                out.push_str("{\n");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    indent(out, depth + 1);
                    string(out, k);
                    out.push_str(": ");
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < pairs.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

/// `s` as a JSON string (RFC 8259 §7).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_rfc_8259_json() {
        let v = Json::obj([
            ("name", Json::Str("a \"q\"\n\u{1}".into())),
            ("n", Json::Num(1.5)),
            ("nan", Json::Num(f64::NAN)),
            (
                "list",
                Json::Arr(vec![Json::Num(1.0), Json::Str("x".into()), Json::Num(f64::INFINITY)]),
            ),
            ("rows", Json::Arr(vec![Json::obj([("k", Json::Num(2.0))])])),
        ]);
        assert_eq!(
            v.pretty(),
            "{\n  \"name\": \"a \\\"q\\\"\\n\\u0001\",\n  \"n\": 1.5,\n  \"nan\": null,\n  \
             \"list\": [1, \"x\", null],\n  \"rows\": [\n    {\n      \"k\": 2\n    }\n  ]\n}\n"
        );
    }
}
