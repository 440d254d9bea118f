//! A cost check run on a segment file before the Parquet decoder reads it.
//!
//! Parquet's Thrift decoder (parquet 57) skips a field it does not know by walking its value,
//! and it skips a list of booleans without reading a byte per element. A corrupt file of a few
//! bytes can so declare a list of 2^31 booleans in an unknown field — of the footer or of any
//! page header — and keep a loader thread busy for seconds per list (lists nested in lists:
//! hours). It also reserves memory for a list's declared size before reading the list, so a
//! few bytes can ask for gigabytes — and it reads a field it knows as that field's type, even
//! where the field's header declares another, so any byte can end up read as a list's size.
//! The fuzzer found all three. This module walks the same Thrift structures the decoder will
//! read: the fields the decoder knows as it reads them (`parquet_format`; a known field
//! declared with another type is refused, so both walks stay in step), the others with its
//! skipping rules, but counting a boolean list by its size instead of looping over it. It
//! refuses a file whose walk would cost more than a budget proportional to the bytes walked,
//! or with a list declaring more elements than bytes left. Files Quarry writes cost about one
//! step per byte.

use bytes::Bytes;
use parquet::file::metadata::ParquetMetaData;

use crate::parquet_format::{self as format, Elem, Kind, Ty};

/// Steps allowed per byte of a Thrift structure, plus a floor for tiny structures.
const STEPS_PER_BYTE: u64 = 16;
const STEPS_FLOOR: u64 = 1 << 16;
/// The decoder refuses to skip deeper than 64 levels; a real footer is a few levels deep.
const MAX_DEPTH: u32 = 64;

// Thrift compact protocol type codes
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

/// Why a file was refused (the caller words the error).
pub(crate) type Refusal = &'static str;

/// Checks the footer's Thrift metadata (the bytes before the trailing length and `PAR1`).
/// A file too short to have a footer is left to the decoder, which refuses it.
pub(crate) fn check_footer(file: &[u8]) -> Result<(), Refusal> {
    let Some(tail) = file.len().checked_sub(8).map(|at| &file[at..]) else {
        return Ok(());
    };
    if &tail[4..] != b"PAR1" {
        return Ok(()); // not a plain Parquet file: the decoder refuses it
    }
    let len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    let Some(start) = (file.len() - 8).checked_sub(len) else {
        return Ok(()); // the decoder refuses a footer longer than the file
    };
    let mut walk = Walk::new(&file[start..file.len() - 8]);
    walk.struct_fields(Some(Kind::FileMetaData), 0, None)?;
    Ok(())
}

/// Checks the header of every page of every column chunk the metadata names: the decoder
/// reads them one after another from each chunk's first page, `compressed_page_size` apart.
/// One budget for all of them: chunks may overlap and pages may be many.
pub(crate) fn check_pages(file: &Bytes, meta: &ParquetMetaData) -> Result<(), Refusal> {
    let mut left = budget_for(file.len());
    for rg in meta.row_groups() {
        for col in rg.columns() {
            let first = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let (Ok(start), Ok(len)) = (
                usize::try_from(first),
                usize::try_from(col.compressed_size()),
            ) else {
                return Err("a column chunk has a negative offset or size");
            };
            let end = start
                .checked_add(len)
                .filter(|&e| e <= file.len())
                .ok_or("a column chunk lies beyond the end of the file")?;
            let mut at = start;
            while at < end {
                let mut walk = Walk::with_budget(&file[at..end], left);
                let page = walk.struct_fields(Some(Kind::PageHeader), 0, Some(3))?;
                left -= walk.steps;
                let page = usize::try_from(page.unwrap_or(-1))
                    .map_err(|_| "a page header has no or a negative compressed_page_size")?;
                at = at
                    .checked_add(walk.pos)
                    .and_then(|a| a.checked_add(page))
                    .ok_or("a page lies beyond the end of its column chunk")?;
            }
        }
    }
    Ok(())
}

fn budget_for(bytes: usize) -> u64 {
    (bytes as u64).saturating_mul(STEPS_PER_BYTE) + STEPS_FLOOR
}

struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    steps: u64,
    budget: u64,
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self::with_budget(buf, budget_for(buf.len()))
    }

    fn with_budget(buf: &'a [u8], budget: u64) -> Self {
        Walk {
            buf,
            pos: 0,
            steps: 0,
            budget,
        }
    }

    fn spend(&mut self, n: u64) -> Result<(), Refusal> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.budget {
            return Err("its Thrift metadata would take too long to decode");
        }
        Ok(())
    }

    /// Refuses a count of elements larger than the bytes left.
    fn fits(&self, count: u64) -> Result<(), Refusal> {
        if count > (self.buf.len() - self.pos) as u64 {
            return Err("its Thrift metadata declares more elements than it has bytes");
        }
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, Refusal> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or("its Thrift metadata is truncated")?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Refusal> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("its Thrift metadata has an overlong integer")
    }

    fn skip(&mut self, n: usize) -> Result<(), Refusal> {
        match self.pos.checked_add(n).filter(|&e| e <= self.buf.len()) {
            Some(e) => {
                self.pos = e;
                Ok(())
            }
            None => Err("its Thrift metadata is truncated"),
        }
    }

    /// A list's header byte (size in the high nibble, element type in the low one) and its
    /// size (from the varint that follows when the nibble is 15).
    fn list_header(&mut self) -> Result<(u8, u64), Refusal> {
        let head = self.byte()?;
        let size = match head >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        Ok((head, size))
    }

    /// Walks a struct's fields up to its stop byte, the fields the decoder knows of a `kind`
    /// as it reads them; answers the integer value of field `want` of this struct (not of
    /// nested ones) when asked and present.
    fn struct_fields(
        &mut self,
        kind: Option<Kind>,
        depth: u32,
        want: Option<i16>,
    ) -> Result<Option<i64>, Refusal> {
        if depth >= MAX_DEPTH {
            return Err("its Thrift metadata is nested too deeply");
        }
        let mut last = 0i16;
        let mut found = None;
        loop {
            self.spend(1)?;
            let head = self.byte()?;
            let ty = head & 0x0f;
            if ty == 0 {
                return Ok(found);
            }
            let delta = head >> 4;
            let id = if delta == 0 {
                zigzag(self.varint()?) as i16
            } else {
                last.wrapping_add(i16::from(delta))
            };
            last = id;
            match kind.and_then(|k| format::field(k, id)) {
                Some(known) => {
                    let value = self.typed(known, ty, depth + 1)?;
                    if want == Some(id) {
                        found = value;
                    }
                }
                None => self.value(ty, depth + 1)?,
            }
        }
    }

    /// Walks a field the decoder knows (it reads it as `known` whatever the header says, so a
    /// header declaring another type is refused); answers an integer field's value.
    fn typed(&mut self, known: Ty, ty: u8, depth: u32) -> Result<Option<i64>, Refusal> {
        let declared = match known {
            Ty::Bool => matches!(ty, BOOL_TRUE | BOOL_FALSE),
            Ty::I8 => ty == BYTE,
            Ty::I16 => ty == I16,
            Ty::I32 => ty == I32,
            Ty::I64 => ty == I64,
            Ty::Double => ty == DOUBLE,
            Ty::Binary => ty == BINARY,
            Ty::Struct(_) => ty == STRUCT,
            Ty::List(_) => ty == LIST,
        };
        if !declared {
            return Err("a field of its Thrift metadata has the wrong type");
        }
        if depth >= MAX_DEPTH {
            return Err("its Thrift metadata is nested too deeply");
        }
        self.spend(1)?;
        match known {
            Ty::I16 | Ty::I32 | Ty::I64 => return Ok(Some(zigzag(self.varint()?))),
            Ty::Struct(kind) => {
                self.struct_fields(Some(kind), depth, None)?;
            }
            Ty::List(elem) => {
                let (head, size) = self.list_header()?;
                if head == 0 {
                    return Ok(None); // an empty list, as some writers mark it
                }
                let wire = match elem {
                    Elem::I32 => I32,
                    Elem::I64 => I64,
                    Elem::Binary => BINARY,
                    Elem::Struct(_) => STRUCT,
                };
                if head & 0x0f != wire {
                    return Err("a list of its Thrift metadata has the wrong element type");
                }
                self.fits(size)?;
                for _ in 0..size {
                    match elem {
                        Elem::Struct(kind) => {
                            self.spend(1)?;
                            self.struct_fields(Some(kind), depth + 1, None)?;
                        }
                        _ => self.value(wire, depth + 1)?,
                    }
                }
            }
            _ => self.value(ty, depth)?,
        }
        Ok(None)
    }

    /// Walks one value of type `ty` as the decoder skips it.
    fn value(&mut self, ty: u8, depth: u32) -> Result<(), Refusal> {
        if depth >= MAX_DEPTH {
            return Err("its Thrift metadata is nested too deeply");
        }
        self.spend(1)?;
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            BYTE => self.skip(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip(8),
            UUID => self.skip(16),
            BINARY => {
                let n = usize::try_from(self.varint()?).map_err(|_| "a binary is too long")?;
                self.skip(n)
            }
            STRUCT => self.struct_fields(None, depth, None).map(drop),
            LIST | SET => {
                let (head, size) = self.list_header()?;
                let elem = head & 0x0f;
                // the decoder reserves room for a list's declared size before reading it;
                // every element takes at least a byte, booleans included (compact protocol)
                self.fits(size)?;
                if matches!(elem, BOOL_TRUE | BOOL_FALSE) {
                    // the decoder loops over these without reading: count, do not loop
                    return self.spend(size);
                }
                for _ in 0..size {
                    self.value(elem, depth + 1)?;
                }
                Ok(())
            }
            MAP => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                self.fits(size)?;
                let kv = self.byte()?;
                for _ in 0..size {
                    self.value(kv >> 4, depth + 1)?;
                    self.value(kv & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            _ => Err("its Thrift metadata has an unknown type"),
        }
    }
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Parquet file of nothing but `meta` as its footer's Thrift metadata.
    fn with_footer(meta: &[u8]) -> Vec<u8> {
        let mut file = b"PAR1".to_vec();
        file.extend(meta);
        file.extend((meta.len() as u32).to_le_bytes());
        file.extend(b"PAR1");
        file
    }

    /// Footer and page checks of a whole file, as `decode_parquet` runs them.
    fn check_file(file: &Bytes) -> Result<(), Refusal> {
        check_footer(file)?;
        let meta = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(file)
            .unwrap();
        check_pages(file, &meta)
    }

    #[test]
    fn a_footer_with_a_huge_boolean_list_is_refused() {
        // unknown field 99 as a list of 2^31 booleans, then the stop byte
        let mut meta = vec![0x09, 0xc6, 0x01]; // field header: type list, id 99 (zigzag 198)
        meta.push(0xf1); // list header: size follows, element type bool
        meta.extend([0x80, 0x80, 0x80, 0x80, 0x08]); // 2^31
        meta.push(0x00); // stop
        assert!(check_footer(&with_footer(&meta)).is_err());
    }

    #[test]
    fn a_list_longer_than_its_bytes_is_refused() {
        // field 2 (schema) as a list of 2^31 structs, in a footer of a few bytes
        let meta = [0x29, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00, 0x00];
        assert!(check_footer(&with_footer(&meta)).is_err());
    }

    #[test]
    fn a_known_field_declared_with_another_type_is_refused() {
        // field 2 (schema, a list) declared as an i32: the decoder would read a list header
        let meta = [0x25, 0x02, 0x00];
        assert!(check_footer(&with_footer(&meta)).is_err());
    }

    #[test]
    fn nested_boolean_lists_are_counted_not_walked() {
        // field 99: a list of 1,000 lists of 1,000 booleans with no bytes for them: the
        // decoder would loop a million times over 3 kB; the walk counts and refuses
        let mut meta = vec![0x09, 0xc6, 0x01, 0xf9, 0xe8, 0x07];
        for _ in 0..1000 {
            meta.extend([0xf1, 0xe8, 0x07]);
        }
        meta.push(0x00);
        assert!(check_footer(&with_footer(&meta)).is_err());
    }

    #[test]
    fn files_quarry_writes_pass() {
        use arrow_array::types::Int16Type;
        use arrow_array::{BooleanArray, Float32Array, Int16Array, Int64Array, ListArray};
        use arrow_array::{RecordBatch, StringArray};
        use std::sync::Arc;
        // statistics, dictionaries, nulls, nested lists: the structures a segment file has
        let n = 10_000;
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from_iter_values(0..n)) as _),
            (
                "b",
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 7 != 0).then(|| format!("v{}", i % 100))),
                )) as _,
            ),
            (
                "c",
                Arc::new(Float32Array::from_iter_values(
                    (0..n).map(|i| i as f32 / 3.0),
                )) as _,
            ),
            (
                "d",
                Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)))) as _,
            ),
            (
                "e",
                Arc::new(Int16Array::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then_some(i as i16)),
                )) as _,
            ),
            (
                "f",
                Arc::new(ListArray::from_iter_primitive::<Int16Type, _, _>(
                    (0..n).map(|i| (i % 4 != 0).then(|| vec![Some(i as i16), None])),
                )) as _,
            ),
        ])
        .unwrap();
        let file = Bytes::from(crate::parquet::encode_parquet(&batch).unwrap());
        check_file(&file).unwrap();
    }

    /// The fuzzer's seed segment files (every column type of its schema, written by Quarry's
    /// writer) pass: the check never refuses what Quarry wrote.
    #[test]
    fn the_fuzz_seed_segments_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/segment");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("segment-") {
                continue;
            }
            // [selector][deletes length: u16 LE][deletes][Parquet file]
            let input = std::fs::read(&path).unwrap();
            let dlen = usize::from(u16::from_le_bytes([input[1], input[2]]));
            let file = Bytes::copy_from_slice(&input[3 + dlen..]);
            check_file(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen += 1;
        }
        assert_eq!(seen, 4);
    }

    #[test]
    fn short_and_foreign_files_are_left_to_the_decoder() {
        assert!(check_footer(b"PAR1").is_ok());
        assert!(check_footer(b"not a parquet file at all").is_ok());
        let mut long = b"PAR1".to_vec();
        long.extend(u32::MAX.to_le_bytes());
        long.extend(b"PAR1");
        assert!(check_footer(&long).is_ok());
    }
}
