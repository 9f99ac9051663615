//! Model tensors as the runtimes hand them over: name, shape, element type and quantisation.

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    F32,
    U8,
    I8,
    I32,
    I64,
    F16,
    Other,
}

/// `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantization {
    pub scale: f32,
    pub zero_point: i32,
}

/// What a tensor is, without its data.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: ElementType,
    pub quantization: Option<Quantization>,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape without leading batch dimensions of 1.
    pub fn dims(&self) -> &[usize] {
        let skip = self
            .shape
            .iter()
            .take_while(|&&d| d == 1)
            .count()
            .min(self.shape.len().saturating_sub(1));
        &self.shape[skip..]
    }
}

/// An output tensor's values, dequantised to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub info: TensorInfo,
    pub values: Vec<f32>,
}

/// Dequantises raw bytes of a tensor.
pub fn dequantize(info: &TensorInfo, bytes: &[u8]) -> Vec<f32> {
    let q = info.quantization.unwrap_or(Quantization {
        scale: 1.0,
        zero_point: 0,
    });
    let real = |v: f32| {
        if info.quantization.is_some() {
            q.scale * (v - q.zero_point as f32)
        } else {
            v
        }
    };
    match info.dtype {
        ElementType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        ElementType::U8 => bytes.iter().map(|&b| real(b as f32)).collect(),
        ElementType::I8 => bytes.iter().map(|&b| real(b as i8 as f32)).collect(),
        ElementType::I32 => bytes
            .chunks_exact(4)
            .map(|c| real(i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32))
            .collect(),
        ElementType::I64 => bytes
            .chunks_exact(8)
            .map(|c| {
                real(i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            })
            .collect(),
        ElementType::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        ElementType::Other => vec![],
    }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(dtype: ElementType, q: Option<Quantization>) -> TensorInfo {
        TensorInfo {
            name: "t".into(),
            shape: vec![1, 2],
            dtype,
            quantization: q,
        }
    }

    #[test]
    fn dequantizes_every_type() {
        let q = Some(Quantization {
            scale: 0.5,
            zero_point: 128,
        });
        assert_eq!(
            dequantize(&info(ElementType::U8, q), &[128, 130]),
            vec![0.0, 1.0]
        );
        let q = Some(Quantization {
            scale: 0.25,
            zero_point: -1,
        });
        assert_eq!(
            dequantize(&info(ElementType::I8, q), &[0xff, 3]),
            vec![0.0, 1.0]
        );
        let f: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            dequantize(&info(ElementType::F32, None), &f),
            vec![1.5, -2.0]
        );
        assert_eq!(
            dequantize(&info(ElementType::F16, None), &[0x00, 0x3c, 0x00, 0xc0]),
            vec![1.0, -2.0]
        );
    }

    #[test]
    fn dims_skip_the_batch() {
        let t = TensorInfo {
            name: "b".into(),
            shape: vec![1, 10, 4],
            dtype: ElementType::F32,
            quantization: None,
        };
        assert_eq!(t.dims(), &[10, 4]);
        let one = TensorInfo {
            shape: vec![1],
            ..t
        };
        assert_eq!(one.dims(), &[1]);
    }
}
