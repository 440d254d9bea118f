//! A check of an Arrow IPC stream's message headers before arrow-ipc decodes it. arrow-ipc
//! trusts lengths and offsets in the headers: a corrupt or hostile log record could make it
//! slice past the end of the body (a panic) or allocate what a header claims (a 1 TiB zeroed
//! buffer aborts the process). Records the proxies write always pass; anything else is refused
//! here with an error instead of reaching the decoder.

use arrow_ipc::{root_as_message, MessageHeader, Type};

use crate::limits::MAX_INSERT_ROWS;

const CONTINUATION: u32 = 0xFFFF_FFFF;

fn bad(what: &str) -> String {
    format!("corrupt log record: {what}")
}

/// Walks the stream's encapsulated messages: `[0xFFFFFFFF] i32 len, metadata, body`.
pub(super) fn check_stream(mut bytes: &[u8]) -> Result<(), String> {
    let mut schemas = 0;
    loop {
        let word = |b: &[u8]| -> Result<u32, String> {
            b.get(..4)
                .and_then(|w| w.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| bad("stream ends inside a message header"))
        };
        let mut len = word(bytes)?;
        bytes = &bytes[4..];
        if len == CONTINUATION {
            len = word(bytes)?;
            bytes = &bytes[4..];
        }
        if len == 0 {
            return Ok(()); // end of stream
        }
        let len = usize::try_from(len).map_err(|_| bad("message length"))?;
        let meta = bytes
            .get(..len)
            .ok_or_else(|| bad("message longer than the record"))?;
        bytes = &bytes[len..];
        let message = root_as_message(meta).map_err(|e| bad(&e.to_string()))?;
        let body = usize::try_from(message.bodyLength())
            .ok()
            .filter(|b| *b <= bytes.len())
            .ok_or_else(|| bad("message body longer than the record"))?;
        match message.header_type() {
            MessageHeader::Schema => {
                let schema = message.header_as_schema().ok_or_else(|| bad("schema"))?;
                let fields = schema
                    .fields()
                    .ok_or_else(|| bad("schema without fields"))?;
                // quarry writes no Null-typed columns: they would take any length for free
                if fields.iter().any(|f| f.type_type() == Type::Null) {
                    return Err(bad("a column of type null"));
                }
                schemas += 1;
            }
            MessageHeader::RecordBatch if schemas == 1 => {
                let batch = message
                    .header_as_record_batch()
                    .ok_or_else(|| bad("batch"))?;
                check_lengths(batch.length(), body, batch.nodes().iter().flatten())?;
                for b in batch.buffers().iter().flatten() {
                    let end = u64::try_from(b.offset())
                        .ok()
                        .zip(u64::try_from(b.length()).ok())
                        .and_then(|(o, l)| o.checked_add(l));
                    if end.is_none_or(|end| end > body as u64) {
                        return Err(bad("a buffer outside the message body"));
                    }
                }
                if batch.compression().is_some() {
                    return Err(bad("compressed batch"));
                }
            }
            _ => return Err(bad("unexpected message in the stream")),
        }
        bytes = &bytes[body..];
    }
}

/// Every array needs at least one bit of body per element: a node longer than that (or a
/// batch of more rows than a write may hold) is a lie about its size.
fn check_lengths<'a>(
    rows: i64,
    body: usize,
    nodes: impl Iterator<Item = &'a arrow_ipc::FieldNode>,
) -> Result<(), String> {
    let most = (body as u64).saturating_mul(8).saturating_add(64);
    if u64::try_from(rows).map_or(true, |r| r > MAX_INSERT_ROWS as u64) {
        return Err(bad("row count out of range"));
    }
    for n in nodes {
        let ok = u64::try_from(n.length()).is_ok_and(|l| l <= most)
            && u64::try_from(n.null_count()).is_ok_and(|c| c as i128 <= n.length() as i128);
        if !ok {
            return Err(bad("a column longer than its data"));
        }
    }
    Ok(())
}
