//! Reading a CSV export in batches of rows, with the line each row starts on.

use crate::app::identity::import::cleaning::clean_text;
use crate::app::identity::import::{Columns, MAX_BATCH_ROWS};
use huiyuan_domain::validation::FieldError;
use std::io;

/// One data row as read: its line in the file (the header is line 1) and its values.
#[derive(Clone, Debug)]
pub struct SourceRow {
    pub line: u64,
    pub values: Vec<String>,
    /// Why the row could not be read as it stands (not UTF-8, more fields than headers).
    pub malformed: Option<String>,
}

/// Turns `\r\n` and a lone `\r` into `\n` on the way to the CSV reader, so that every line
/// break counts once and row line numbers come out right whatever wrote the file.
pub(super) struct LineEndings<R> {
    pub(super) inner: R,
    pub(super) after_cr: bool,
    /// The last byte passed on: at the end, whether the file ended with a line break.
    pub(super) last: Option<u8>,
}

impl<R: io::Read> io::Read for LineEndings<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let read = self.inner.read(buf)?;
            if read == 0 {
                return Ok(0);
            }
            // Rewritten in place: the output is never longer than the input.
            let mut written = 0;
            for index in 0..read {
                let byte = buf[index];
                let skip = byte == b'\n' && self.after_cr;
                self.after_cr = byte == b'\r';
                if !skip {
                    buf[written] = if byte == b'\r' { b'\n' } else { byte };
                    written += 1;
                }
            }
            if written > 0 {
                self.last = Some(buf[written - 1]);
                return Ok(written);
            }
        }
    }
}

/// A CSV source read in batches.
pub struct CsvRows<R> {
    pub(super) reader: csv::Reader<LineEndings<R>>,
    pub(super) columns: Columns,
    /// The record after the last one handed out, with the reader's line after it.
    pub(super) next: Option<(csv::ByteRecord, u64)>,
}

impl<R: io::Read> CsvRows<R> {
    /// Reads the header row and resolves the columns.
    pub fn open(source: R, mapping: &[(String, String)]) -> Result<Self, FieldError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(LineEndings {
                inner: source,
                after_cr: false,
                last: None,
            });
        let headers = reader
            .byte_headers()
            .map_err(|error| FieldError::new("csv", "invalid_csv", error.to_string()))?;
        let headers: Vec<String> = headers
            .iter()
            .map(|header| {
                std::str::from_utf8(header).map(str::to_owned).map_err(|_| {
                    FieldError::new(
                        "csv",
                        "not_utf8",
                        "the file is not UTF-8 text; convert it first (e.g. iconv -f GB18030 -t UTF-8)",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(FieldError::new(
                "csv",
                "required",
                "the first row must name the columns",
            ));
        }
        let columns = Columns::resolve(&headers, mapping)?;
        Ok(Self {
            reader,
            columns,
            next: None,
        })
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Bytes consumed so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Up to `max` further rows; empty at the end. Rows whose every value is blank are skipped.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<SourceRow>, FieldError> {
        let width = self.columns.headers.len();
        let mut rows = Vec::with_capacity(max.min(MAX_BATCH_ROWS));
        while rows.len() < max {
            let Some((record, after_line)) = self
                .next
                .take()
                .map_or_else(|| self.read_record(), |r| Ok(Some(r)))?
            else {
                break;
            };
            // Reading one record ahead tells whether this one ends with a line break: it does
            // unless it is the last and the file ends without one.
            self.next = self.read_record()?;
            let ends_with_break = self.next.is_some() || self.reader.get_ref().last == Some(b'\n');
            // The reader's position after a record is right where the record's own position is
            // not (it counts from before any blank lines skipped); step back over the line break
            // and over the line breaks inside quoted values.
            let embedded: u64 = record
                .iter()
                .map(|value| value.iter().filter(|b| **b == b'\n').count() as u64)
                .sum();
            let line = after_line.saturating_sub(embedded + u64::from(ends_with_break));
            let mut malformed = None;
            let values: Vec<String> = record
                .iter()
                .map(|value| match std::str::from_utf8(value) {
                    Ok(text) => text.to_owned(),
                    Err(_) => {
                        malformed = Some("not UTF-8 text".to_owned());
                        String::from_utf8_lossy(value).into_owned()
                    }
                })
                .collect();
            if values.len() > width {
                malformed = Some(format!(
                    "has {} fields; the header has {width}",
                    values.len()
                ));
            }
            rows.push(SourceRow {
                line,
                values,
                malformed,
            });
        }
        Ok(rows)
    }

    /// The next record whose values are not all blank, with the reader's line after it.
    pub(super) fn read_record(&mut self) -> Result<Option<(csv::ByteRecord, u64)>, FieldError> {
        let mut record = csv::ByteRecord::new();
        loop {
            let more = self
                .reader
                .read_byte_record(&mut record)
                .map_err(|error| FieldError::new("csv", "invalid_csv", error.to_string()))?;
            if !more {
                return Ok(None);
            }
            let blank = record
                .iter()
                .all(|v| clean_text(&String::from_utf8_lossy(v)).is_none());
            if !blank {
                return Ok(Some((record, self.reader.position().line())));
            }
        }
    }
}

/// Reads a whole CSV text (the API's body) into rows; at most `max_rows`.
pub fn read_csv_text(
    text: &str,
    mapping: &[(String, String)],
    max_rows: usize,
) -> Result<(Columns, Vec<SourceRow>), FieldError> {
    let mut source = CsvRows::open(text.as_bytes(), mapping)?;
    let rows = source.next_batch(max_rows.saturating_add(1))?;
    if rows.len() > max_rows {
        return Err(FieldError::new(
            "csv",
            "too_many_rows",
            format!(
                "at most {max_rows} rows per request; import larger files with `huiyuan import members`"
            ),
        ));
    }
    Ok((source.columns, rows))
}
