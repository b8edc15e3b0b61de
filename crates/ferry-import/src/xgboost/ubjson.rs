//! A small Universal Binary JSON (draft 12) reader, enough for what XGBoost writes:
//! objects, arrays, strongly typed arrays (`[$d#L…`), big-endian numbers.
//!
//! Hostile input is bounded: nesting depth is limited and no count is trusted beyond
//! the bytes that remain, so a forged length cannot make it allocate gigabytes.

use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 128;

pub(super) fn parse(bytes: &[u8]) -> Result<Value, String> {
    let mut reader = Reader { bytes, at: 0 };
    let marker = reader.byte()?;
    let value = reader.value(marker, 0)?;
    if reader.at != bytes.len() {
        return Err(format!(
            "{} unexpected bytes after the document at offset {}",
            bytes.len() - reader.at,
            reader.at
        ));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("truncated at offset {} (needed {n} more bytes)", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length: an integer value with its own type marker.
    fn length(&mut self) -> Result<usize, String> {
        let at = self.at;
        let marker = self.byte()?;
        let n = self.integer(marker)?;
        usize::try_from(n).map_err(|_| format!("negative length {n} at offset {at}"))
    }

    fn integer(&mut self, marker: u8) -> Result<i64, String> {
        Ok(match marker {
            b'i' => i64::from(i8::from_be_bytes(self.array()?)),
            b'U' => i64::from(u8::from_be_bytes(self.array()?)),
            b'I' => i64::from(i16::from_be_bytes(self.array()?)),
            b'l' => i64::from(i32::from_be_bytes(self.array()?)),
            b'L' => i64::from_be_bytes(self.array()?),
            other => {
                return Err(format!(
                    "expected an integer marker at offset {}, found {:?}",
                    self.at - 1,
                    char::from(other)
                ))
            }
        })
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.length()?;
        let at = self.at;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("invalid UTF-8 in string at offset {at}"))
    }

    fn value(&mut self, marker: u8, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::Number(self.integer(marker)?.into()),
            b'd' => float(f64::from(f32::from_be_bytes(self.array()?))),
            b'D' => float(f64::from_be_bytes(self.array()?)),
            b'C' => Value::String(char::from(self.byte()?).to_string()),
            b'S' => Value::String(self.string()?),
            b'H' => {
                let text = self.string()?;
                let n: f64 = text
                    .parse()
                    .map_err(|_| format!("invalid high-precision number {text:?}"))?;
                float(n)
            }
            b'[' => self.container(depth, false)?,
            b'{' => self.container(depth, true)?,
            other => {
                return Err(format!(
                    "unknown type marker {:?} at offset {}",
                    char::from(other),
                    self.at - 1
                ))
            }
        })
    }

    /// An array or object after its opening marker, with the optional `$type` and
    /// `#count` headers.
    fn container(&mut self, depth: usize, object: bool) -> Result<Value, String> {
        let mut element_type = None;
        let mut count = None;
        if self.bytes.get(self.at) == Some(&b'$') {
            self.at += 1;
            element_type = Some(self.byte()?);
            if self.bytes.get(self.at) != Some(&b'#') {
                return Err(format!("`$` without `#` at offset {}", self.at));
            }
        }
        if self.bytes.get(self.at) == Some(&b'#') {
            self.at += 1;
            let n = self.length()?;
            // Every element takes at least one byte (or, typed, at least one byte of
            // payload); a count larger than what is left is forged or truncated.
            let remaining = self.bytes.len() - self.at;
            let min_size = match element_type {
                Some(b'I') => 2,
                Some(b'l' | b'd') => 4,
                Some(b'L' | b'D') => 8,
                Some(b'Z' | b'T' | b'F') => 0,
                _ => 1,
            };
            if n.saturating_mul(min_size) > remaining {
                return Err(format!(
                    "container of {n} elements at offset {} is longer than the file",
                    self.at
                ));
            }
            count = Some(n);
        }
        let next = |reader: &mut Self| -> Result<Value, String> {
            let marker = match element_type {
                Some(t) => t,
                None => reader.byte()?,
            };
            reader.value(marker, depth + 1)
        };
        if object {
            let mut map = Map::new();
            match count {
                Some(n) => {
                    for _ in 0..n {
                        let key = self.string()?;
                        let value = next(self)?;
                        map.insert(key, value);
                    }
                }
                None => loop {
                    if self.bytes.get(self.at) == Some(&b'}') {
                        self.at += 1;
                        break;
                    }
                    let key = self.string()?;
                    let value = next(self)?;
                    map.insert(key, value);
                },
            }
            Ok(Value::Object(map))
        } else {
            let mut items = Vec::with_capacity(count.unwrap_or(0));
            match count {
                Some(n) => {
                    for _ in 0..n {
                        items.push(next(self)?);
                    }
                }
                None => loop {
                    match self.bytes.get(self.at) {
                        Some(b']') => {
                            self.at += 1;
                            break;
                        }
                        None => return Err("truncated inside an array".into()),
                        Some(_) => items.push(next(self)?),
                    }
                },
            }
            Ok(Value::Array(items))
        }
    }
}

/// JSON has no NaN or infinity; XGBoost never writes them in a tree, so they become null
/// and are rejected later with the field's name.
fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn typed_float_array_and_object() {
        // {"a": [$d#i 2 1.5f32 -2f32], "b": "x"}
        let mut bytes = vec![b'{', b'i', 1, b'a', b'[', b'$', b'd', b'#', b'i', 2];
        bytes.extend_from_slice(&1.5f32.to_be_bytes());
        bytes.extend_from_slice(&(-2.0f32).to_be_bytes());
        bytes.extend_from_slice(&[b'i', 1, b'b', b'S', b'i', 1, b'x', b'}']);
        let value = parse(&bytes).unwrap();
        assert_eq!(value["a"], serde_json::json!([1.5, -2.0]));
        assert_eq!(value["b"], "x");
    }

    #[test]
    fn forged_count_is_rejected() {
        let bytes = [
            b'[', b'$', b'd', b'#', b'L', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let err = parse(&bytes).unwrap_err();
        assert!(err.contains("longer than the file"), "{err}");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let bytes = vec![b'['; 10_000];
        let err = parse(&bytes).unwrap_err();
        assert!(err.contains("nesting"), "{err}");
    }

    #[test]
    fn truncated_is_rejected() {
        let err = parse(&[b'{', b'i', 5, b'a']).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }
}
