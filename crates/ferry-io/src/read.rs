use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use ferry_ir::{DType, Model};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::{IoError, TableFormat};

/// Options for [`open_reader`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Rows per batch.
    pub batch_size: usize,
    /// Columns to pass through to the output, besides the model's inputs.
    pub keep: Vec<String>,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            batch_size: 64 * 1024,
            keep: Vec::new(),
        }
    }
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// A stream of record batches from a table, with progress information.
pub struct BatchReader {
    path: String,
    /// Column names in file order, for turning "column 3" in parser errors into a name.
    file_columns: Vec<String>,
    inner: Batches,
    bytes_read: Arc<AtomicU64>,
    /// Total size in bytes, when the input is a text file whose bytes are counted.
    pub total_bytes: Option<u64>,
    rows: u64,
    failed: bool,
}

impl BatchReader {
    fn new(
        path: &str,
        file_columns: Vec<String>,
        inner: Batches,
        bytes_read: Arc<AtomicU64>,
        total_bytes: Option<u64>,
    ) -> BatchReader {
        BatchReader {
            path: path.into(),
            file_columns,
            inner,
            bytes_read,
            total_bytes,
            rows: 0,
            failed: false,
        }
    }

    /// A counter of the bytes consumed so far (CSV and JSON Lines, with
    /// [`BatchReader::total_bytes`]), readable from another thread for a progress bar.
    pub fn bytes_counter(&self) -> Arc<AtomicU64> {
        self.bytes_read.clone()
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

impl Iterator for BatchReader {
    type Item = Result<RecordBatch, IoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.inner.next() {
            Some(Ok(batch)) => {
                self.rows += batch.num_rows() as u64;
                Some(Ok(batch))
            }
            Some(Err(e)) => {
                self.failed = true;
                Some(Err(IoError::Parse {
                    path: self.path.clone(),
                    message: describe(&e, &self.file_columns),
                }))
            }
            None if self.rows == 0 => {
                self.failed = true;
                Some(Err(IoError::Parse {
                    path: self.path.clone(),
                    message: "the table has a header but no rows".into(),
                }))
            }
            None => None,
        }
    }
}

/// Arrow's CSV errors say "column 3 at line 7"; name the column instead.
fn describe(error: &ArrowError, columns: &[String]) -> String {
    static PATTERN: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"Error while parsing value '(?s:(.*?))' as type '?(\w+)'? for column (\d+) at line (\d+)",
        )
        .expect("valid regex")
    });
    let message = error.to_string();
    if let Some(c) = PATTERN.captures(&message) {
        let column = c[3]
            .parse::<usize>()
            .ok()
            .and_then(|i| columns.get(i))
            .map_or_else(|| format!("#{}", &c[3]), |name| format!("`{name}`"));
        let expected = match &c[2] {
            "Float64" | "Float32" => "a number",
            other => other,
        };
        // Arrow counts data rows from 1; the file line also counts the header.
        let line = c[4]
            .parse::<u64>()
            .map_or_else(|_| c[4].to_string(), |l| (l + 1).to_string());
        return format!(
            "line {line}, column {column}: expected {expected}, found \"{}\"",
            &c[1]
        );
    }
    let message = message
        .strip_prefix("Parser error: ")
        .or_else(|| message.strip_prefix("Json error: "))
        .unwrap_or(&message);
    message.to_string()
}

/// Counts bytes as they are read, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The type a column is read as: numeric model inputs as Float64, categorical inputs and
/// everything else (in text formats) as strings.
fn column_type(model: &Model, name: &str) -> DataType {
    match model.inputs.iter().find(|i| i.name == name) {
        Some(input) if input.dtype != DType::Categorical => DataType::Float64,
        _ => DataType::Utf8,
    }
}

/// Checks that every model input and kept column is present; returns the indices of the
/// columns to read (inputs and kept, in file order).
fn project(
    path: &str,
    names: &[String],
    model: &Model,
    keep: &[String],
) -> Result<Vec<usize>, IoError> {
    let found = || {
        let mut list = names
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > 12 {
            list.push_str(", …");
        }
        list
    };
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(IoError::DuplicateColumn {
                path: path.into(),
                column: name.clone(),
            });
        }
    }
    for input in &model.inputs {
        if !names.contains(&input.name) {
            return Err(IoError::MissingColumn {
                path: path.into(),
                column: input.name.clone(),
                found: found(),
            });
        }
    }
    for column in keep {
        if !names.contains(column) {
            return Err(IoError::MissingKeep {
                path: path.into(),
                column: column.clone(),
                found: found(),
            });
        }
    }
    Ok(names
        .iter()
        .enumerate()
        .filter(|(_, n)| keep.contains(n) || model.input_index(n).is_some())
        .map(|(i, _)| i)
        .collect())
}

/// Opens `path` (or stdin for `-`) as a stream of batches holding the model's inputs and
/// the `keep` columns.
pub fn open_reader(
    path: &str,
    model: &Model,
    options: &ReadOptions,
) -> Result<BatchReader, IoError> {
    let format = TableFormat::from_path(path)?;
    let open_error = |source| IoError::Open {
        path: path.into(),
        source,
    };
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (source, total_bytes): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = File::open(path).map_err(open_error)?;
        let metadata = file.metadata().map_err(open_error)?;
        // Pipes and devices report no length; only a regular file can be known empty.
        let len = metadata.is_file().then_some(metadata.len());
        if len == Some(0) {
            return Err(IoError::Empty { path: path.into() });
        }
        match format {
            TableFormat::Csv | TableFormat::JsonLines => (Box::new(file), len),
            TableFormat::Parquet => return parquet_reader(path, file, model, options),
            TableFormat::ArrowIpc => return ipc_reader(path, file, model, options),
        }
    };
    let counting = Counting {
        inner: source,
        count: bytes_read.clone(),
    };
    let mut reader = BufReader::with_capacity(1 << 20, counting);
    match format {
        TableFormat::Csv => csv_reader(path, reader, model, options, bytes_read, total_bytes),
        TableFormat::JsonLines => {
            // Infer the kept columns' types from the first lines, then read from the start.
            let mut head = Vec::new();
            for _ in 0..1000 {
                let n = reader.read_until(b'\n', &mut head).map_err(open_error)?;
                if n == 0 {
                    break;
                }
            }
            if head.iter().all(u8::is_ascii_whitespace) {
                return Err(IoError::Empty { path: path.into() });
            }
            let (inferred, _) = arrow_json::reader::infer_json_schema(Cursor::new(&head), None)
                .map_err(|e| IoError::Parse {
                    path: path.into(),
                    message: describe(&e, &[]),
                })?;
            let names: Vec<String> = inferred.fields().iter().map(|f| f.name().clone()).collect();
            let wanted = project(path, &names, model, &options.keep)?;
            let fields: Vec<Field> = wanted
                .iter()
                .map(|&i| {
                    let field = inferred.field(i);
                    match model.input_index(field.name()) {
                        Some(_) => Field::new(field.name(), column_type(model, field.name()), true),
                        None => field.clone(),
                    }
                })
                .collect();
            let schema = Arc::new(Schema::new(fields));
            let rest = Cursor::new(head).chain(reader);
            let inner = arrow_json::ReaderBuilder::new(schema)
                .with_batch_size(options.batch_size)
                .with_coerce_primitive(true)
                .build(BufReader::new(rest))
                .map_err(|e| IoError::Parse {
                    path: path.into(),
                    message: describe(&e, &[]),
                })?;
            Ok(BatchReader::new(
                path,
                names,
                Box::new(inner),
                bytes_read,
                total_bytes,
            ))
        }
        TableFormat::Parquet | TableFormat::ArrowIpc => Err(IoError::Parse {
            path: path.into(),
            message: "binary formats cannot be read from stdin; pass a file".into(),
        }),
    }
}

fn csv_reader(
    path: &str,
    mut reader: BufReader<Counting<Box<dyn Read + Send>>>,
    model: &Model,
    options: &ReadOptions,
    bytes_read: Arc<AtomicU64>,
    total_bytes: Option<u64>,
) -> Result<BatchReader, IoError> {
    let mut header = Vec::new();
    reader
        .read_until(b'\n', &mut header)
        .map_err(|source| IoError::Open {
            path: path.into(),
            source,
        })?;
    let header_text = String::from_utf8_lossy(&header);
    let header_text = header_text
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n']);
    if header_text.trim().is_empty() {
        return Err(IoError::Empty { path: path.into() });
    }
    let names = by_position(split_header(header_text), model, &options.keep);
    let wanted = project(path, &names, model, &options.keep)?;
    let schema: SchemaRef = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, column_type(model, n), true))
            .collect::<Vec<_>>(),
    ));
    static NULLS: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^(|NA|N/A|NaN|nan|NULL|null|None)$").expect("valid regex")
    });
    let rest = Cursor::new(header).chain(reader);
    let inner = arrow_csv::ReaderBuilder::new(schema)
        .with_header(true)
        .with_batch_size(options.batch_size)
        .with_null_regex(NULLS.clone())
        .with_projection(wanted)
        .build(rest)
        .map_err(|e| IoError::Parse {
            path: path.into(),
            message: describe(&e, &names),
        })?;
    Ok(BatchReader::new(
        path,
        names,
        Box::new(inner),
        bytes_read,
        total_bytes,
    ))
}

/// When a CSV header names none of the model's inputs (an ONNX graph's `X_0…`, a file
/// written without names the model knows), the inputs are taken by position: the first
/// columns in file order that are not kept columns, as ONNX users feed a 2-D array.
fn by_position(mut names: Vec<String>, model: &Model, keep: &[String]) -> Vec<String> {
    let n = model.inputs.len();
    let known = names.iter().any(|name| model.input_index(name).is_some());
    let free: Vec<usize> = (0..names.len())
        .filter(|i| !keep.contains(&names[*i]))
        .collect();
    if known || free.len() < n {
        return names;
    }
    for (input, &i) in model.inputs.iter().zip(&free) {
        names[i] = input.name.clone();
    }
    names
}

/// Splits a CSV header row, honouring double quotes.
fn split_header(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

fn parquet_reader(
    path: &str,
    file: File,
    model: &Model,
    options: &ReadOptions,
) -> Result<BatchReader, IoError> {
    let parse = |e: parquet::errors::ParquetError| IoError::Parse {
        path: path.into(),
        message: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parse)?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let wanted = project(path, &names, model, &options.keep)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader = builder
        .with_batch_size(options.batch_size)
        .with_projection(mask)
        .build()
        .map_err(parse)?;
    Ok(BatchReader::new(
        path,
        names,
        Box::new(reader),
        Arc::new(AtomicU64::new(0)),
        None,
    ))
}

fn ipc_reader(
    path: &str,
    mut file: File,
    model: &Model,
    options: &ReadOptions,
) -> Result<BatchReader, IoError> {
    let parse = |e: ArrowError| IoError::Parse {
        path: path.into(),
        message: e.to_string(),
    };
    let io = |source| IoError::Open {
        path: path.into(),
        source,
    };
    let mut magic = [0u8; 6];
    let is_file = file.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let (names, inner): (Vec<String>, Batches) = if is_file {
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).map_err(parse)?;
        let names = field_names(&reader.schema());
        (names, Box::new(reader))
    } else {
        let reader =
            arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), None).map_err(parse)?;
        let names = field_names(&reader.schema());
        (names, Box::new(reader))
    };
    project(path, &names, model, &options.keep)?;
    Ok(BatchReader::new(
        path,
        names,
        inner,
        Arc::new(AtomicU64::new(0)),
        None,
    ))
}

fn field_names(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::split_header;

    #[test]
    fn header_with_quotes() {
        assert_eq!(
            split_header(r#"a,"b,c","d""e",f"#),
            vec!["a", "b,c", "d\"e", "f"]
        );
    }
}
