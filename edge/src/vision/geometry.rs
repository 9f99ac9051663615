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

    /// The z component of the 2-D cross product `self × o`.
    pub fn cross(self, o: Point) -> f32 {
        self.x * o.y - self.y * o.x
    }

    pub fn dist(self, o: Point) -> f32 {
        let d = self - o;
        (d.x * d.x + d.y * d.y).sqrt()
    }
}

impl std::ops::Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
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

    /// Intersection over union, 0 for disjoint or empty boxes.
    pub fn iou(&self, o: &BBox) -> f32 {
        let w = (self.x2.min(o.x2) - self.x1.max(o.x1)).max(0.0);
        let h = (self.y2.min(o.y2) - self.y1.max(o.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + o.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The box clamped to the image.
    pub fn clamped(&self) -> BBox {
        let c = |v: f32| v.clamp(0.0, 1.0);
        BBox::new(c(self.x1), c(self.y1), c(self.x2), c(self.y2))
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
    fn cross_sign_follows_the_right_hand_side_with_y_down() {
        // Line from left to right; a point below it (larger y) is on its right.
        let d = Point::new(1.0, 0.0);
        assert!(d.cross(Point::new(0.5, 0.1)) > 0.0);
        assert!(d.cross(Point::new(0.5, -0.1)) < 0.0);
    }
}
