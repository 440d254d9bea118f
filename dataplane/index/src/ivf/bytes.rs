//! The little-endian byte layout of IVF index files: a writer, and a reader that checks every
//! length against what is left, so a damaged file is an error and never a panic or a huge
//! allocation.

use crate::IndexError;

#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f32s(&mut self, v: &[f32]) {
        self.0.reserve(v.len() * 4);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub(crate) fn u32s(&mut self, v: &[u32]) {
        self.0.reserve(v.len() * 4);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

pub(crate) fn corrupt(what: &str) -> IndexError {
    IndexError::Native(format!("damaged index file: {what}"))
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], IndexError> {
        if n > self.buf.len() {
            return Err(corrupt(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, IndexError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, IndexError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, IndexError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    /// `n` floats; the length is checked before anything is allocated.
    pub(crate) fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>, IndexError> {
        let b = self.take(n.checked_mul(4).ok_or_else(|| corrupt(what))?, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    pub(crate) fn u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>, IndexError> {
        let b = self.take(n.checked_mul(4).ok_or_else(|| corrupt(what))?, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}
