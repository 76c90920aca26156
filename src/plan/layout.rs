//! Where each of a customer's values sits among the evaluator's slots: one layout, asked by
//! everyone, instead of index arithmetic repeated where the slots are filled and read.

/// The slots of a customer's values, in order: the schema's fields, the population variables
/// (what a customer comes with: [`Layout::inputs`]), the metrics, the segments, then `tier`
/// and `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    fields: usize,
    population: usize,
    metrics: usize,
    segments: usize,
}

impl Layout {
    /// The layout of these many fields, population variables, metrics and segments.
    pub fn new(fields: usize, population: usize, metrics: usize, segments: usize) -> Layout {
        Layout {
            fields,
            population,
            metrics,
            segments,
        }
    }

    /// How many values a customer comes with: its fields, then its population variables.
    pub fn inputs(self) -> usize {
        self.fields + self.population
    }

    /// The slot of metric `i`.
    pub fn metric(self, i: usize) -> usize {
        debug_assert!(i < self.metrics);
        self.inputs() + i
    }

    /// The slot of segment `i`.
    pub fn segment(self, i: usize) -> usize {
        debug_assert!(i < self.segments);
        self.inputs() + self.metrics + i
    }

    /// The slot of `tier`.
    pub fn tier(self) -> usize {
        self.inputs() + self.metrics + self.segments
    }

    /// The slot of `stage`.
    pub fn stage(self) -> usize {
        self.tier() + 1
    }

    /// How many slots there are.
    pub fn len(self) -> usize {
        self.stage() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn slots_follow_each_other_in_order() {
        let layout = Layout::new(3, 2, 4, 5);
        assert_eq!(layout.inputs(), 5);
        assert_eq!((layout.metric(0), layout.metric(3)), (5, 8));
        assert_eq!((layout.segment(0), layout.segment(4)), (9, 13));
        assert_eq!((layout.tier(), layout.stage(), layout.len()), (14, 15, 16));
    }
}
