//! The byte forms of the packed vector types (BinaryVector, Float16Vector, BFloat16Vector,
//! Int8Vector) as
//! they travel on the Milvus wire and rest in segments (one fixed-size binary value per row),
//! and their conversion to and from the `f32` form the search kernels and result values use.
//!
//! - BinaryVector: `dim` bits, `dim / 8` bytes, the first dimension in the most significant
//!   bit of the first byte (numpy's `packbits` order, as pymilvus sends it); as `f32` one
//!   value per bit, 0.0 or 1.0.
//! - Float16Vector: IEEE half precision, 2 little-endian bytes per dimension.
//! - BFloat16Vector: the upper half of an `f32`, 2 little-endian bytes per dimension.
//! - Int8Vector: one signed byte per dimension (Milvus 2.6).
//!
//! Both 16-bit forms widen to `f32` exactly, and narrowing a widened value gives back the
//! same bytes, so results carry the values exactly as inserted.

use crate::schema::DataType;

/// Bytes per row of a vector of `dim` dimensions of a packed type; `None` for other types.
pub fn row_bytes(data_type: DataType, dim: usize) -> Option<usize> {
    match data_type {
        DataType::BinaryVector => Some(dim / 8),
        DataType::Float16Vector | DataType::BFloat16Vector => dim.checked_mul(2),
        DataType::Int8Vector => Some(dim),
        _ => None,
    }
}

/// Whether a type is stored as fixed-size bytes per row.
pub fn is_packed(data_type: DataType) -> bool {
    row_bytes(data_type, 0).is_some()
}

/// Widens one IEEE half-precision value.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // subnormal: normalise the fraction
            let mut e: i32 = -14;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (((e + 127) as u32) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// Narrows an `f32` to IEEE half precision, rounding to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if frac != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = frac | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let mut v = m >> shift;
        let rest = m & ((1 << shift) - 1);
        if rest > half || (rest == half && v & 1 == 1) {
            v += 1;
        }
        return sign | v as u16;
    }
    let mut v = ((e as u32) << 10) | (frac >> 13);
    let rest = frac & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && v & 1 == 1) {
        v += 1; // may carry into the exponent, which is the right rounding
    }
    sign | v as u16
}

/// Widens one bfloat16 value.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Narrows an `f32` to bfloat16, rounding to nearest even.
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) as u16) | 0x40;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// Appends the `f32` form of packed rows (`bytes` a whole number of rows) to `out`.
pub fn decode_into(data_type: DataType, bytes: &[u8], out: &mut Vec<f32>) {
    match data_type {
        DataType::BinaryVector => {
            out.reserve(bytes.len() * 8);
            for b in bytes {
                for bit in (0..8).rev() {
                    out.push(((b >> bit) & 1) as f32);
                }
            }
        }
        DataType::Float16Vector => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))),
        ),
        DataType::BFloat16Vector => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| bf16_to_f32(u16::from_le_bytes([c[0], c[1]]))),
        ),
        DataType::Int8Vector => out.extend(bytes.iter().map(|b| *b as i8 as f32)),
        _ => {}
    }
}

/// The `f32` form of packed rows.
pub fn decode(data_type: DataType, bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::new();
    decode_into(data_type, bytes, &mut out);
    out
}

/// The byte form of `f32` values (whole rows); binary dimensions are set when nonzero.
pub fn encode(data_type: DataType, values: &[f32]) -> Vec<u8> {
    match data_type {
        DataType::BinaryVector => values
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, v)| if *v != 0.0 { b | (0x80 >> i) } else { b })
            })
            .collect(),
        DataType::Float16Vector => values
            .iter()
            .flat_map(|v| f32_to_f16(*v).to_le_bytes())
            .collect(),
        DataType::BFloat16Vector => values
            .iter()
            .flat_map(|v| f32_to_bf16(*v).to_le_bytes())
            .collect(),
        // whole numbers in [-128, 127] are exact; others round and saturate
        DataType::Int8Vector => values
            .iter()
            .map(|v| v.round().clamp(-128.0, 127.0) as i8 as u8)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8); // smallest subnormal
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(1.0 / 3.0), 0x3555);
        assert_eq!(f32_to_f16(1e6), 0x7c00); // overflow to infinity
        assert_eq!(f32_to_f16(5.960_464_5e-8), 0x0001);
        // every half value survives a round trip through f32
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if !x.is_nan() {
                assert_eq!(f32_to_f16(x), h, "{h:#06x}");
            }
        }
    }

    #[test]
    fn bfloat16_known_values() {
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc040), -3.0);
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80); // tie to even
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        for h in (0..=u16::MAX).step_by(7) {
            let x = bf16_to_f32(h);
            if !x.is_nan() {
                assert_eq!(f32_to_bf16(x), h);
            }
        }
    }

    #[test]
    fn binary_bits_are_msb_first() {
        let bytes = [0b1000_0001u8, 0xff];
        let v = decode(DataType::BinaryVector, &bytes);
        assert_eq!(v.len(), 16);
        assert_eq!(&v[..8], &[1., 0., 0., 0., 0., 0., 0., 1.]);
        assert!(v[8..].iter().all(|x| *x == 1.0));
        assert_eq!(encode(DataType::BinaryVector, &v), bytes);
        let h = encode(DataType::Float16Vector, &[1.0, -2.0]);
        assert_eq!(h, vec![0x00, 0x3c, 0x00, 0xc0]);
        assert_eq!(decode(DataType::Float16Vector, &h), vec![1.0, -2.0]);
        assert_eq!(row_bytes(DataType::BinaryVector, 16), Some(2));
        assert_eq!(row_bytes(DataType::BFloat16Vector, 3), Some(6));
        let i = encode(DataType::Int8Vector, &[-128.0, 0.0, 127.0, 300.0, -3.4]);
        assert_eq!(i, [0x80, 0, 0x7f, 0x7f, 0xfd]);
        assert_eq!(
            decode(DataType::Int8Vector, &i),
            [-128.0, 0.0, 127.0, 127.0, -3.0]
        );
        assert_eq!(row_bytes(DataType::Int8Vector, 5), Some(5));
        assert_eq!(row_bytes(DataType::FloatVector, 3), None);
    }
}
