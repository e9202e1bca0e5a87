//! Spark's sort-based fallback in `ObjectHashAggregateExec` (`ObjectAggregationIterator`), for
//! the aggregates whose state depends on the order it sees rows in (`collect_list`,
//! `percentile_approx`): once Spark's hash map holds `threshold` groups and rows remain, the
//! remaining rows are sorted by their keys and each group's are read into a new buffer
//! (`SortBasedAggregator`), into which the group's buffer from the hash map is then merged.
//! Here too each group's later rows go to a state of their own ([`SortFallback`]), which the
//! aggregate combines with the earlier one when the group leaves.

use datafusion::logical_expr::EmitTo;

/// Where a task's rows go: each group's earlier state (kept by the aggregate), or past the
/// switch its later one.
#[derive(Debug, Clone)]
pub(crate) struct SortFallback<T> {
    threshold: usize,
    /// The groups that have had rows.
    seen: usize,
    /// The groups emitted so far (DataFusion numbers the remaining ones from 0 again; Spark's
    /// hash map still holds them).
    emitted: usize,
    /// Whether the threshold was reached on a batch's last row (the switch comes with the next
    /// row, if any).
    pending: bool,
    /// Whether rows now go to the later states.
    sorted: bool,
    /// Each group's state of the rows after the switch (none before it).
    later: Vec<Option<T>>,
}

impl<T> SortFallback<T> {
    /// The fallback past `threshold` groups.
    pub(crate) fn new(threshold: usize) -> Self {
        Self {
            threshold,
            seen: 0,
            emitted: 0,
            pending: false,
            sorted: false,
            later: Vec::new(),
        }
    }

    /// Makes room for `groups` groups' later states, once rows go to them.
    pub(crate) fn resize(&mut self, groups: usize) {
        if self.sorted && groups > self.later.len() {
            self.later.resize_with(groups, || None);
        }
    }

    /// The state row `i` of a batch of `n` (of group `g`) goes to: the group's `earlier` one
    /// before the switch, else its later one (made by `new`); none where the row has no value
    /// to `read` (it still makes its group, as in Spark's hash map). Spark checks its map's
    /// size after each row's update.
    pub(crate) fn target<'a>(
        &'a mut self,
        earlier: &'a mut [T],
        i: usize,
        n: usize,
        g: usize,
        read: bool,
        new: impl FnOnce() -> T,
    ) -> Option<&'a mut T> {
        if self.pending {
            self.pending = false;
            self.sorted = true;
        }
        self.resize(earlier.len());
        if self.sorted {
            return read.then(|| self.later[g].get_or_insert_with(new));
        }
        self.seen = self.seen.max(self.emitted + g + 1);
        let reached = self.seen >= self.threshold;
        self.sorted = reached && i + 1 < n;
        self.pending = reached && i + 1 == n;
        read.then(|| &mut earlier[g])
    }

    /// The later states of the `taken` groups `emit_to` takes (none before the switch).
    pub(crate) fn take(&mut self, emit_to: EmitTo, taken: usize) -> Option<Vec<Option<T>>> {
        self.emitted += taken;
        if self.later.is_empty() {
            None
        } else {
            Some(emit_to.take_needed(&mut self.later))
        }
    }

    /// The later states (for tests).
    #[cfg(test)]
    pub(crate) fn later(&self) -> &[Option<T>] {
        &self.later
    }

    /// The capacity of the later states' list.
    pub(crate) fn capacity(&self) -> usize {
        self.later.capacity()
    }
}
