//! Reading whole input files with a size cap, so that `/dev/zero`, an endless pipe or a
//! huge file ends in an error rather than in running out of memory.

use std::io::Read;
use std::path::Path;

/// Reads `path` whole, or `Ok(None)` if it is longer than its cap: `regular_max` bytes for a
/// regular file (whose size is checked before reading), `stream_max` for anything else (a
/// pipe, `/dev/stdin`, a device), which is read up to one byte past the cap.
pub(crate) fn read_bounded(
    path: &Path,
    regular_max: u64,
    stream_max: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let max = match meta.is_file() {
        true => regular_max,
        false => stream_max,
    };
    if meta.is_file() && meta.len() > max {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    // (A regular file can grow while it is read: the cap holds for it too.)
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}
