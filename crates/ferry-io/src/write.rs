use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use parquet::arrow::ArrowWriter;
use tempfile::NamedTempFile;

use crate::{IoError, TableFormat};

/// Writes batches to a table. Nothing is visible at the target path until
/// [`BatchWriter::finish`] succeeds.
pub trait BatchWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError>;
    /// Flushes and moves the file into place.
    fn finish(self: Box<Self>) -> Result<(), IoError>;
}

enum Sink {
    Csv(arrow_csv::Writer<BufWriter<Box<dyn Write + Send>>>),
    Json(arrow_json::LineDelimitedWriter<BufWriter<Box<dyn Write + Send>>>),
    Parquet(ArrowWriter<File>),
    Ipc(arrow_ipc::writer::FileWriter<BufWriter<File>>),
}

struct Writer {
    path: String,
    sink: Sink,
    /// The temporary file to rename into place; `None` for stdout.
    temp: Option<tempfile::TempPath>,
}

impl Writer {
    fn error(&self, e: impl std::fmt::Display) -> IoError {
        IoError::Write {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }
}

impl BatchWriter for Writer {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        let result: Result<(), String> = match &mut self.sink {
            Sink::Csv(w) => w.write(batch).map_err(|e| e.to_string()),
            Sink::Json(w) => w.write(batch).map_err(|e| e.to_string()),
            Sink::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
            Sink::Ipc(w) => w.write(batch).map_err(|e| e.to_string()),
        };
        result.map_err(|e| self.error(e))
    }

    fn finish(self: Box<Self>) -> Result<(), IoError> {
        let Writer { path, sink, temp } = *self;
        let error = |e: String| IoError::Write {
            path: path.clone(),
            message: e,
        };
        match sink {
            Sink::Csv(w) => w.into_inner().flush().map_err(|e| error(e.to_string()))?,
            Sink::Json(mut w) => {
                w.finish().map_err(|e| error(e.to_string()))?;
                w.into_inner().flush().map_err(|e| error(e.to_string()))?;
            }
            Sink::Parquet(w) => {
                w.close().map_err(|e| error(e.to_string()))?;
            }
            Sink::Ipc(mut w) => {
                w.finish().map_err(|e: ArrowError| error(e.to_string()))?;
                w.into_inner()
                    .map_err(|e| error(e.to_string()))?
                    .flush()
                    .map_err(|e| error(e.to_string()))?;
            }
        }
        if let Some(temp) = temp {
            make_readable(&temp).map_err(|e| error(e.to_string()))?;
            temp.persist(&path)
                .map_err(|e| error(e.error.to_string()))?;
        }
        Ok(())
    }
}

/// Gives a temporary file about to become an output the mode of an ordinary file
/// (0644): temporary files are created private (0600).
pub fn make_readable(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates a writer for `path` (`-` is CSV on stdout) with the given schema.
pub fn create_writer(path: &str, schema: SchemaRef) -> Result<Box<dyn BatchWriter>, IoError> {
    let format = TableFormat::from_path(path)?;
    let io_error = |e: std::io::Error| IoError::Write {
        path: path.to_string(),
        message: e.to_string(),
    };
    let (out, temp): (Option<File>, Option<tempfile::TempPath>) = if path == "-" {
        (None, None)
    } else {
        let dir = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let named = NamedTempFile::with_prefix_in(".ferry-", dir).map_err(io_error)?;
        let (file, temp) = named.into_parts();
        (Some(file), Some(temp))
    };
    let text_sink = |out: Option<File>| -> BufWriter<Box<dyn Write + Send>> {
        match out {
            Some(file) => BufWriter::with_capacity(1 << 20, Box::new(file)),
            None => BufWriter::with_capacity(1 << 16, Box::new(std::io::stdout())),
        }
    };
    let sink = match format {
        TableFormat::Csv => Sink::Csv(
            arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(text_sink(out)),
        ),
        TableFormat::JsonLines => Sink::Json(arrow_json::LineDelimitedWriter::new(text_sink(out))),
        TableFormat::Parquet => {
            let file = out.ok_or_else(|| IoError::Write {
                path: path.into(),
                message: "Parquet cannot be written to stdout".into(),
            })?;
            Sink::Parquet(
                ArrowWriter::try_new(file, schema.clone(), None).map_err(|e| IoError::Write {
                    path: path.into(),
                    message: e.to_string(),
                })?,
            )
        }
        TableFormat::ArrowIpc => {
            let file = out.ok_or_else(|| IoError::Write {
                path: path.into(),
                message: "Arrow IPC cannot be written to stdout".into(),
            })?;
            Sink::Ipc(
                arrow_ipc::writer::FileWriter::try_new(BufWriter::new(file), &schema).map_err(
                    |e| IoError::Write {
                        path: path.into(),
                        message: e.to_string(),
                    },
                )?,
            )
        }
    };
    Ok(Box::new(Writer {
        path: path.into(),
        sink,
        temp,
    }))
}
