//! Points and boxes in normalised image coordinates (0..1, y pointing down).

/// A point in normalised image coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// The dot product `self · o`.
    pub fn dot(self, o: Point) -> f32 {
        self.x * o.x + self.y * o.y
    }

    /// The z component of the 2-D cross product `self × o`.
    pub fn cross(self, o: Point) -> f32 {
        self.x * o.y - self.y * o.x
    }

    pub fn dist(self, o: Point) -> f32 {
        let d = self - o;
        d.dot(d).sqrt()
    }
}

impl std::ops::Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
}

impl std::ops::Add for Point {
    type Output = Point;
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
}

impl std::ops::Mul<f32> for Point {
    type Output = Point;
    fn mul(self, k: f32) -> Point {
        Point::new(self.x * k, self.y * k)
    }
}

/// An axis-aligned box in normalised image coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// A box from its centre, width and height.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point {
        Point::new((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    /// The area both boxes cover, 0 for disjoint ones.
    pub fn overlap(&self, o: &BBox) -> f32 {
        let w = (self.x2.min(o.x2) - self.x1.max(o.x1)).max(0.0);
        let h = (self.y2.min(o.y2) - self.y1.max(o.y1)).max(0.0);
        w * h
    }

    /// Intersection over union, 0 for disjoint or empty boxes.
    pub fn iou(&self, o: &BBox) -> f32 {
        let inter = self.overlap(o);
        let union = self.area() + o.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The same box moved by `by`.
    pub fn moved(&self, by: Point) -> BBox {
        BBox::new(
            self.x1 + by.x,
            self.y1 + by.y,
            self.x2 + by.x,
            self.y2 + by.y,
        )
    }

    /// The box clamped to the image.
    pub fn clamped(&self) -> BBox {
        let c = |v: f32| v.clamp(0.0, 1.0);
        BBox::new(c(self.x1), c(self.y1), c(self.x2), c(self.y2))
    }

    /// The whole picture.
    pub const FULL: BBox = BBox::new(0.0, 0.0, 1.0, 1.0);

    /// This box, given in the coordinates of `region` (a part of the picture), in the
    /// picture's own.
    pub fn out_of(&self, region: &BBox) -> BBox {
        let (w, h) = (region.width(), region.height());
        BBox::new(
            region.x1 + self.x1 * w,
            region.y1 + self.y1 * h,
            region.x1 + self.x2 * w,
            region.y1 + self.y2 * h,
        )
    }

    /// This box, given in the picture's coordinates, in those of `region`: the inverse of
    /// [`BBox::out_of`].
    pub fn in_region(&self, region: &BBox) -> BBox {
        let (w, h) = (
            region.width().max(f32::EPSILON),
            region.height().max(f32::EPSILON),
        );
        BBox::new(
            (self.x1 - region.x1) / w,
            (self.y1 - region.y1) / h,
            (self.x2 - region.x1) / w,
            (self.y2 - region.y1) / h,
        )
    }

    /// The size in pixels (width, height) of the part around `points` before it is made as
    /// square as the frames (see [`BBox::around`]); nothing without points.
    pub fn band(points: &[Point], margin: f32, width: u32, height: u32) -> (f32, f32) {
        if points.is_empty() || width == 0 || height == 0 {
            return (0.0, 0.0);
        }
        Self::band_size(Self::margined(points, margin, width, height), width, height)
    }

    /// The bounding box of `points` grown by `margin` (a share of the picture's height) on
    /// every side, in pixels of a `width`×`height` picture: (x1, x2, y1, y2).
    fn margined(points: &[Point], margin: f32, width: u32, height: u32) -> (f32, f32, f32, f32) {
        let (fw, fh) = (width as f32, height as f32);
        let xs = points.iter().map(|p| p.x * fw);
        let ys = points.iter().map(|p| p.y * fh);
        let m = margin * fh;
        (
            xs.clone().fold(f32::MAX, f32::min) - m,
            xs.fold(f32::MIN, f32::max) + m,
            ys.clone().fold(f32::MAX, f32::min) - m,
            ys.fold(f32::MIN, f32::max) + m,
        )
    }

    /// The size of a margined box (see [`BBox::margined`]): at most the picture, and at least
    /// half the picture's height, so people look at most twice as tall as in the whole picture
    /// and one near the line still fits with room around them.
    fn band_size((x1, x2, y1, y2): (f32, f32, f32, f32), width: u32, height: u32) -> (f32, f32) {
        let (fw, fh) = (width as f32, height as f32);
        ((x2 - x1).min(fw), (y2 - y1).max(fh / 2.0).min(fh))
    }

    /// The part of a `width`×`height` picture around `points`: their bounding box grown by
    /// `margin` (a share of the picture's height) on every side, at least half the picture's
    /// height, then widened or heightened towards `aspect` (width over height, in pixels) and
    /// kept inside the picture. The whole picture when the part would cover most of it anyway,
    /// or when there are no points.
    pub fn around(points: &[Point], margin: f32, aspect: f32, width: u32, height: u32) -> BBox {
        if points.is_empty() || width == 0 || height == 0 {
            return BBox::FULL;
        }
        let (fw, fh) = (width as f32, height as f32);
        let bounds = Self::margined(points, margin, width, height);
        let (w, h) = Self::band_size(bounds, width, height);
        let (mut x1, mut x2, mut y1, mut y2) = bounds;
        // Grows [a, b] to `len` about its middle, shifted back inside [0, max].
        let grow = |a: &mut f32, b: &mut f32, len: f32, max: f32| {
            let len = len.min(max);
            let mid = ((*a + *b) / 2.0).clamp(len / 2.0, max - len / 2.0);
            (*a, *b) = (mid - len / 2.0, mid + len / 2.0);
        };
        if w / h < aspect {
            grow(&mut x1, &mut x2, h * aspect, fw);
            grow(&mut y1, &mut y2, h, fh);
        } else {
            grow(&mut y1, &mut y2, w / aspect, fh);
            grow(&mut x1, &mut x2, w, fw);
        }
        let part = BBox::new(x1 / fw, y1 / fh, x2 / fw, y2 / fh).clamped();
        if part.area() > 0.8 { BBox::FULL } else { part }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox::new(0.0, 0.0, 0.2, 0.2);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox::new(0.3, 0.3, 0.4, 0.4)), 0.0);
        let half = BBox::new(0.1, 0.0, 0.3, 0.2);
        assert!((a.iou(&half) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(BBox::new(0.0, 0.0, 0.0, 0.0).iou(&a), 0.0);
    }

    #[test]
    fn a_box_found_in_a_region_maps_back_to_the_picture() {
        let region = BBox::new(0.2, 0.1, 0.6, 0.9);
        let found = BBox::new(0.5, 0.5, 1.0, 1.0);
        let b = found.out_of(&region);
        assert!(
            (b.x1 - 0.4).abs() < 1e-6 && (b.y1 - 0.5).abs() < 1e-6,
            "{b:?}"
        );
        assert!(
            (b.x2 - 0.6).abs() < 1e-6 && (b.y2 - 0.9).abs() < 1e-6,
            "{b:?}"
        );
        let back = b.in_region(&region);
        assert!((back.x1 - found.x1).abs() < 1e-6 && (back.y2 - found.y2).abs() < 1e-6);
        assert_eq!(found.out_of(&BBox::FULL), found);
    }

    #[test]
    fn cross_sign_follows_the_right_hand_side_with_y_down() {
        // Line from left to right; a point below it (larger y) is on its right.
        let d = Point::new(1.0, 0.0);
        assert!(d.cross(Point::new(0.5, 0.1)) > 0.0);
        assert!(d.cross(Point::new(0.5, -0.1)) < 0.0);
    }
}
