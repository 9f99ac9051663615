//! Plain RGB images in memory and the few pixel operations the generator needs (crop, resize),
//! so that no image crate is needed.

/// An 8-bit RGB image, rows top to bottom, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

impl Rgb {
    pub fn new(w: usize, h: usize) -> Self {
        Rgb {
            w,
            h,
            data: vec![0; w * h * 3],
        }
    }

    pub fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.w + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    pub fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = (y * self.w + x) * 3;
        self.data[i..i + 3].copy_from_slice(&c);
    }

    /// The part `x..x+w, y..y+h` (clamped to the image).
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> Rgb {
        let x = x.min(self.w);
        let y = y.min(self.h);
        let w = w.min(self.w - x);
        let h = h.min(self.h - y);
        let mut out = Rgb::new(w, h);
        for row in 0..h {
            let src = ((y + row) * self.w + x) * 3;
            out.data[row * w * 3..(row + 1) * w * 3].copy_from_slice(&self.data[src..src + w * 3]);
        }
        out
    }

    /// Bilinear sample at continuous coordinates (pixel `i` covers `i..i+1`), edges clamped.
    pub fn sample(&self, x: f64, y: f64) -> [f64; 3] {
        let fx = (x - 0.5).clamp(0.0, (self.w - 1) as f64);
        let fy = (y - 0.5).clamp(0.0, (self.h - 1) as f64);
        let x0 = fx.floor() as usize;
        let y0 = fy.floor() as usize;
        let x1 = (x0 + 1).min(self.w - 1);
        let y1 = (y0 + 1).min(self.h - 1);
        let ax = fx - x0 as f64;
        let ay = fy - y0 as f64;
        let mut out = [0.0; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let p = |x: usize, y: usize| f64::from(self.data[(y * self.w + x) * 3 + c]);
            let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
            let bottom = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
            *o = top * (1.0 - ay) + bottom * ay;
        }
        out
    }

    /// This image resized to `w`x`h`; shrinking averages the covered pixels (a box filter of
    /// bilinear samples), so fine texture does not alias.
    pub fn resize(&self, w: usize, h: usize) -> Rgb {
        let sx = self.w as f64 / w as f64;
        let sy = self.h as f64 / h as f64;
        let nx = sx.ceil().max(1.0) as usize;
        let ny = sy.ceil().max(1.0) as usize;
        let mut out = Rgb::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let mut acc = [0.0; 3];
                for j in 0..ny {
                    for i in 0..nx {
                        let u = (x as f64 + (i as f64 + 0.5) / nx as f64) * sx;
                        let v = (y as f64 + (j as f64 + 0.5) / ny as f64) * sy;
                        let s = self.sample(u, v);
                        for c in 0..3 {
                            acc[c] += s[c];
                        }
                    }
                }
                let n = (nx * ny) as f64;
                out.set(x, y, acc.map(|a| (a / n).round().clamp(0.0, 255.0) as u8));
            }
        }
        out
    }
}

/// The box of pixels `b` (x1, y1, x2, y2; none yet) grown to hold pixel `(x, y)`.
pub fn grown(b: Option<[f64; 4]>, x: usize, y: usize) -> [f64; 4] {
    let (x, y) = (x as f64, y as f64);
    b.map_or([x, y, x + 1.0, y + 1.0], |b| {
        [
            b[0].min(x),
            b[1].min(y),
            b[2].max(x + 1.0),
            b[3].max(y + 1.0),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_and_resize_keep_flat_colours() {
        let mut img = Rgb::new(8, 6);
        for y in 0..6 {
            for x in 0..8 {
                img.set(x, y, if x < 4 { [10, 20, 30] } else { [200, 100, 0] });
            }
        }
        let c = img.crop(4, 1, 10, 3);
        assert_eq!((c.w, c.h), (4, 3));
        assert!(c.data.chunks(3).all(|p| p == [200, 100, 0]));
        let r = img.resize(4, 3);
        assert_eq!(r.px(0, 0), [10, 20, 30]);
        assert_eq!(r.px(3, 2), [200, 100, 0]);
    }
}
