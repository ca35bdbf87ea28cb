//! OLE2 compound files (xls, and encrypted xlsx) checked before calamine opens them.
//!
//! calamine's container reader follows sector chains without loop detection and trusts the
//! stream sizes in the directory, so a few damaged kilobytes can make it allocate gigabytes (a
//! 6 KB xls asked for 4 GB; found by cargo fuzz). The cfb crate validates the allocation table,
//! the directory and the mini-stream chains on open; what it leaves, a stream claiming to be
//! longer than the file, is checked here, which bounds every chain calamine then reads by the
//! file's own size.

use std::io::Cursor;

use crate::error::IngestError;

/// `Ok` when calamine may read the container without unbounded work.
pub(crate) fn check(bytes: &[u8]) -> Result<(), IngestError> {
    let corrupt = |detail: String| IngestError::CorruptWorkbook { format: "xls", detail };
    let file = cfb::CompoundFile::open(Cursor::new(bytes))
        .map_err(|e| corrupt(e.to_string().chars().take(200).collect()))?;
    let size = bytes.len() as u64;
    for entry in file.walk() {
        if entry.len() > size {
            return Err(corrupt(format!(
                "the part {:?} claims {} bytes in a {size}-byte file",
                entry.name(),
                entry.len()
            )));
        }
    }
    Ok(())
}
