//! The reject file and the probable-duplicate report.

use crate::app::identity::import::{ProbableDuplicate, RejectedRow};
use std::io;

/// The reject file: `line`, `code`, `reason`, then the file's own columns, one row per rejected row.
pub struct RejectFile<W: io::Write> {
    pub(super) writer: csv::Writer<W>,
}

impl<W: io::Write> RejectFile<W> {
    pub fn new(out: W, headers: &[String]) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        let mut header = vec!["line".to_owned(), "code".to_owned(), "reason".to_owned()];
        header.extend(headers.iter().cloned());
        writer.write_record(&header).map_err(io::Error::other)?;
        Ok(Self { writer })
    }

    pub fn write(&mut self, rejects: &[RejectedRow]) -> io::Result<()> {
        for reject in rejects {
            let mut record = vec![
                reject.line.to_string(),
                reject.code.clone(),
                reject.reason.clone(),
            ];
            record.extend(reject.values.iter().cloned());
            self.writer
                .write_record(&record)
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// The probable-duplicate report: one row per (new member, candidate) pair.
pub struct DuplicateFile<W: io::Write> {
    pub(super) writer: csv::Writer<W>,
}

impl<W: io::Write> DuplicateFile<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(out);
        writer
            .write_record([
                "line",
                "member_no",
                "member_id",
                "reason",
                "candidate_member_no",
                "candidate_id",
                "candidate_line",
            ])
            .map_err(io::Error::other)?;
        Ok(Self { writer })
    }

    pub fn write(&mut self, duplicates: &[ProbableDuplicate]) -> io::Result<()> {
        for d in duplicates {
            self.writer
                .write_record([
                    d.line.to_string(),
                    d.member_no.clone(),
                    d.member_id.to_string(),
                    d.reason.clone(),
                    d.candidate_member_no.clone(),
                    d.candidate_id.to_string(),
                    d.candidate_line.map(|l| l.to_string()).unwrap_or_default(),
                ])
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.writer.flush()
    }
}
