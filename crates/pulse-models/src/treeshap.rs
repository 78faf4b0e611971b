//! Exact TreeSHAP over a flattened copy of a forust-ml forest, in f64, without allocations per
//! row. Two exact algorithms give the same values (tested against each other, against forust
//! and against brute-force Shapley values):
//! - per-leaf tables (`LeafTables`, the default): O(nodes + leaves x depth) per tree and row,
//!   used when no root-to-leaf path has more than 10 distinct features;
//! - the classic path-unwinding recursion (Lundberg et al. 2020, Algorithm 2), O(leaves x
//!   depth^2), for deeper trees.
//!
//! Why not `GradientBooster::predict_contributions(.., ContributionsMethod::Shapley, ..)`:
//! it is the same recursion with f32 path weights and a cloned path vector at every node, so it
//! costs what our recursion costs (NOTES-perf: 1.6-1.9 ms per row at 500 trees), and it needs a
//! column-major `Matrix` per call. Its sums are fine (measured max |base + sum - margin| of
//! 7e-8 at 200 trees / depth 6 and 1.1e-7 at 500 / depth 8) and its values agree with the exact
//! f64 ones to about 1e-5 (tested below). Ours work on one row slice, map columns left out at
//! fit time back to the full schema, add up to ~1e-13, and the tables are 5-6x faster than the
//! recursion (see the crate docs for figures).
//!
//! The game explained is the usual TreeSHAP one: `v(S) = E[f(x) | x_S]` where features outside
//! `S` follow the training cover (sum of hessians) at each split. Missing values (NaN) follow the
//! node's missing branch, exactly as forust's own prediction does.

use forust_ml::GradientBooster;

use crate::error::ModelError;

const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct FlatNode {
    feature: u32,
    /// `LEAF` for a leaf.
    left: u32,
    right: u32,
    missing: u32,
    threshold: f64,
    /// Leaf weight (already multiplied by the learning rate).
    value: f64,
    /// Training cover (hessian sum) reaching the node.
    cover: f64,
}

impl FlatNode {
    fn is_leaf(&self) -> bool {
        self.left == LEAF
    }
    /// Child followed by value `v` (NaN is missing); same rule as forust's `Node::get_child_idx`.
    #[inline]
    fn child(&self, v: f64) -> u32 {
        if v.is_nan() {
            self.missing
        } else if v < self.threshold {
            self.left
        } else {
            self.right
        }
    }
    fn has_missing_branch(&self) -> bool {
        self.missing != self.left && self.missing != self.right
    }
}

#[derive(Debug, Clone)]
struct FlatTree {
    nodes: Vec<FlatNode>,
    /// Expected value under the cover distribution (TreeSHAP's `v(empty set)`).
    expected: f64,
    /// Precomputed per-leaf tables; `None` when a path has too many distinct features.
    fast: Option<LeafTables>,
}

/// Most distinct features on one root-to-leaf path for the precomputed path (2^d table entries
/// per leaf); deeper trees use the recursive algorithm.
const MAX_FAST_PATH_FEATURES: usize = 10;

#[derive(Debug, Clone, Copy)]
struct LeafInfo {
    /// Node index of the leaf.
    node: u32,
    value: f64,
    /// Distinct features on the path (`d`).
    d: u32,
    /// Offsets into `LeafTables::{features, zero}` (d entries) and `q` (2^d entries).
    slot_start: u32,
    q_start: u32,
    /// Offset into `LeafTables::phi` (2^d x d entries), or `NO_PHI` for paths with more
    /// than `MAX_PHI_PATH_FEATURES` distinct features.
    phi_start: u32,
}

/// Most distinct features on a path for which the leaf's whole answer is tabulated: for every
/// set `A` of followed slots, the `d` contributions themselves (2^d x d values, 1.5 KiB at
/// d = 5), so a row adds `d` numbers per leaf and multiplies nothing.
const MAX_PHI_PATH_FEATURES: usize = 6;
const NO_PHI: u32 = u32::MAX;

/// Leaf-path form of TreeSHAP (in the spirit of Fast TreeSHAP v2, Yang 2021). For a leaf with
/// distinct path features `F` (`d = |F|`), cover fractions `z_j` (product over the splits on `j`)
/// and the set `A` of features whose splits the row follows, the leaf's contribution is
/// `phi_i = v (1 - z_i) P Q(A \ {i})` for `i` in `A` and `phi_i = -v P Q(A)` otherwise, with
/// `P = prod_{j in F \ A} z_j` and `Q(C) = sum_{S subset C} |S|! (d-|S|-1)! / d! prod_{j in C \ S} z_j`.
/// `Q` is tabulated for every subset at load time, so a row costs O(nodes + leaves * depth) per
/// tree instead of O(leaves * depth^2) with the path-unwinding recursion. For paths of up to
/// `MAX_PHI_PATH_FEATURES` features the contributions themselves are tabulated per set `A`
/// (Fast TreeSHAP v2's trade of memory for time: 2^d x d values per leaf, at most 1.25 KiB
/// at depth 5), so a row only adds `d` numbers per leaf and multiplies nothing. Measured with
/// `pulse bench explain` on the demo's 150-tree churn model: a whole raw-feature score (both
/// models, contributions, quadrant, drivers) fell from 64-65 to 55-56 us per account (load ~4);
/// what is left is mostly memory traffic over the tables.
///
/// Slots number a path's distinct features in order of first appearance from the root, so a
/// node's slot is the same for every leaf below it; one forward pass over the nodes (children
/// come after parents) then gives every leaf its set of "cold" slots, the complement of `A`.
#[derive(Debug, Clone, Default)]
struct LeafTables {
    leaves: Vec<LeafInfo>,
    /// Slot of each internal node's split feature on its path (unused for leaves).
    node_slot: Vec<u32>,
    features: Vec<u32>,
    zero: Vec<f64>,
    q: Vec<f64>,
    /// Per leaf and set `A` of followed slots (row `A`, `d` wide): each slot's contribution.
    phi: Vec<f64>,
}

impl LeafTables {
    fn build(nodes: &[FlatNode]) -> Option<Self> {
        let mut t = LeafTables {
            node_slot: vec![0; nodes.len()],
            ..Default::default()
        };
        let (mut feats, mut zs) = (Vec::new(), Vec::new());
        t.visit(nodes, 0, &mut feats, &mut zs).then_some(t)
    }

    /// Depth-first walk; `feats` / `zs` are the path's distinct features and their cover
    /// fractions so far.
    fn visit(
        &mut self,
        nodes: &[FlatNode],
        i: usize,
        feats: &mut Vec<u32>,
        zs: &mut Vec<f64>,
    ) -> bool {
        let node = &nodes[i];
        if node.is_leaf() {
            return self.add_leaf(i, node.value, feats, zs);
        }
        let (slot, added) = match feats.iter().position(|&f| f == node.feature) {
            Some(k) => (k, false),
            None => {
                feats.push(node.feature);
                zs.push(1.0);
                (feats.len() - 1, true)
            }
        };
        if feats.len() > MAX_FAST_PATH_FEATURES {
            return false;
        }
        self.node_slot[i] = slot as u32;
        let n = if node.has_missing_branch() { 3 } else { 2 };
        for &c in &[node.left, node.right, node.missing][..n] {
            let saved = zs[slot];
            zs[slot] = saved * nodes[c as usize].cover / node.cover;
            let ok = self.visit(nodes, c as usize, feats, zs);
            zs[slot] = saved;
            if !ok {
                return false;
            }
        }
        if added {
            feats.pop();
            zs.pop();
        }
        true
    }

    fn add_leaf(&mut self, node: usize, value: f64, feats: &[u32], z: &[f64]) -> bool {
        let d = feats.len();
        let slot_start = self.features.len();
        self.features.extend_from_slice(feats);
        self.zero.extend_from_slice(z);
        let q_start = self.q.len();
        // w[k] = k! (d-k-1)! / d! = (1/d) / C(d-1, k)
        let w: Vec<f64> = (0..d.max(1))
            .map(|k| {
                let mut v = 1.0 / d.max(1) as f64;
                for m in 0..k {
                    v *= (m + 1) as f64 / (d - 1 - m) as f64;
                }
                v
            })
            .collect();
        // poly[mask][k] = e_k(z over mask): elementary symmetric polynomials, built by adding
        // one slot at a time.
        let size = 1usize << d;
        let mut poly = vec![0.0; size * (d + 1)];
        poly[0] = 1.0;
        for mask in 1..size {
            let j = mask.trailing_zeros() as usize;
            let prev = mask & (mask - 1);
            for k in 0..=d {
                // e_k(C + j) = e_k(C) + z_j e_{k-1}(C)
                let mut v = poly[prev * (d + 1) + k];
                if k > 0 {
                    v += z[j] * poly[prev * (d + 1) + k - 1];
                }
                poly[mask * (d + 1) + k] = v;
            }
        }
        for mask in 0..size {
            let b = mask.count_ones() as usize;
            // Q(C) = sum_{s=0}^{|C|} w[s] e_{|C|-s}(z_C); only |C| <= d-1 is ever read.
            let q = if b >= d {
                0.0
            } else {
                (0..=b).map(|s| w[s] * poly[mask * (d + 1) + b - s]).sum()
            };
            self.q.push(q);
        }
        let phi_start = if d <= MAX_PHI_PATH_FEATURES {
            let start = self.phi.len();
            let q = &self.q[q_start..];
            for a in 0..size {
                // The same arithmetic, in the same order, as `leaf_terms` at scoring time.
                let (p, off) = leaf_terms(value, z, &q[..size], a as u32);
                for (j, &zj) in z.iter().enumerate() {
                    let bit = 1usize << j;
                    self.phi.push(if a & bit != 0 {
                        (1.0 - zj) * p * q[a & !bit]
                    } else {
                        off
                    });
                }
            }
            start as u32
        } else {
            NO_PHI
        };
        self.leaves.push(LeafInfo {
            node: node as u32,
            value,
            d: d as u32,
            slot_start: slot_start as u32,
            q_start: q_start as u32,
            phi_start,
        });
        true
    }

    /// Adds this tree's contributions for `row`; `cold` is scratch space of `nodes.len()`.
    fn accumulate(&self, nodes: &[FlatNode], row: &[f64], cold: &mut [u32], phi: &mut [f64]) {
        cold[0] = 0;
        for (i, node) in nodes.iter().enumerate() {
            if node.is_leaf() {
                continue;
            }
            let hot = node.child(row[node.feature as usize]);
            let m = cold[i];
            let bit = 1u32 << self.node_slot[i];
            cold[node.left as usize] = if node.left == hot { m } else { m | bit };
            cold[node.right as usize] = if node.right == hot { m } else { m | bit };
            if node.has_missing_branch() {
                cold[node.missing as usize] = if node.missing == hot { m } else { m | bit };
            }
        }
        for leaf in &self.leaves {
            let d = leaf.d as usize;
            if d == 0 {
                continue;
            }
            let s0 = leaf.slot_start as usize;
            let full = (1u32 << d) - 1;
            let a = full & !cold[leaf.node as usize];
            let features = &self.features[s0..s0 + d];
            if leaf.phi_start != NO_PHI {
                let t = &self.phi[leaf.phi_start as usize + a as usize * d..][..d];
                for (&f, &v) in features.iter().zip(t) {
                    phi[f as usize] += v;
                }
                continue;
            }
            let z = &self.zero[s0..s0 + d];
            let q = &self.q[leaf.q_start as usize..][..1usize << d];
            let (p, off) = leaf_terms(leaf.value, z, q, a);
            for (j, (&f, &zj)) in features.iter().zip(z).enumerate() {
                let bit = 1u32 << j;
                let follow = (1.0 - zj) * p * q[(a & !bit) as usize];
                phi[f as usize] += [off, follow][((a >> j) & 1) as usize];
            }
        }
    }
}

/// For a leaf of value `v` and the set `a` of followed slots: `P = v prod_{j not in a} z_j`
/// and the contribution `-P Q(a)` of every slot the row does not follow.
#[inline]
fn leaf_terms(v: f64, z: &[f64], q: &[f64], a: u32) -> (f64, f64) {
    // Branch-free: which slots the row follows is data-dependent and unpredictable.
    let mut p = v;
    for (j, &zj) in z.iter().enumerate() {
        p *= [zj, 1.0][((a >> j) & 1) as usize];
    }
    (p, -p * q[a as usize])
}

/// A forest ready for fast margins and exact contributions.
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    trees: Vec<FlatTree>,
    base_score: f64,
    expected_value: f64,
    n_features: usize,
    /// Path buffer length needed by the deepest tree.
    buffer_len: usize,
    /// Node count of the largest tree.
    max_nodes: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: u32,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

impl Forest {
    /// Flattens the trees forust predicts with, validating indices and covers. The booster was
    /// fitted on the columns `columns` of an `n_features`-wide schema; split features are mapped
    /// back so margins and contributions work on full rows.
    pub(crate) fn from_booster(
        b: &GradientBooster,
        columns: &[usize],
        n_features: usize,
    ) -> Result<Self, ModelError> {
        let n_trees = b
            .prediction_iteration
            .unwrap_or(b.trees.len())
            .min(b.trees.len());
        let mut trees = Vec::with_capacity(n_trees);
        let mut max_depth = 0usize;
        let mut max_nodes = 0usize;
        for (t, tree) in b.trees[..n_trees].iter().enumerate() {
            let n = tree.nodes.len();
            if n == 0 {
                return Err(ModelError::InvalidModel {
                    reason: format!("tree {t} has no nodes"),
                });
            }
            let mut nodes = Vec::with_capacity(n);
            for (i, node) in tree.nodes.iter().enumerate() {
                let bad = |what: &str| ModelError::InvalidModel {
                    reason: format!("tree {t} node {i}: {what}"),
                };
                if node.is_leaf {
                    nodes.push(FlatNode {
                        feature: 0,
                        left: LEAF,
                        right: LEAF,
                        missing: LEAF,
                        threshold: 0.0,
                        value: f64::from(node.weight_value),
                        cover: f64::from(node.hessian_sum),
                    });
                    continue;
                }
                // Children are stored after their parent; this also rules out cycles.
                for c in [node.left_child, node.right_child, node.missing_node] {
                    if c <= i || c >= n {
                        return Err(bad("child index out of range"));
                    }
                }
                let Some(&feature) = columns.get(node.split_feature) else {
                    return Err(bad("split feature out of range"));
                };
                if feature >= n_features {
                    return Err(bad("split feature out of range"));
                }
                if node.hessian_sum.is_nan() || node.hessian_sum <= 0.0 || node.split_value.is_nan()
                {
                    return Err(bad("non-positive cover or NaN threshold"));
                }
                nodes.push(FlatNode {
                    feature: feature as u32,
                    left: node.left_child as u32,
                    right: node.right_child as u32,
                    missing: node.missing_node as u32,
                    threshold: node.split_value,
                    value: f64::from(node.weight_value),
                    cover: f64::from(node.hessian_sum),
                });
            }
            let depth = depth_of(&nodes, 0);
            max_depth = max_depth.max(depth);
            let expected = expected_value(&nodes, 0);
            let fast = LeafTables::build(&nodes);
            max_nodes = max_nodes.max(nodes.len());
            trees.push(FlatTree {
                nodes,
                expected,
                fast,
            });
        }
        let expected_value = b.base_score + trees.iter().map(|t| t.expected).sum::<f64>();
        // Unique path length is at most depth + 1; each recursion level copies the parent path.
        let d = max_depth + 2;
        Ok(Self {
            trees,
            base_score: b.base_score,
            expected_value,
            n_features,
            buffer_len: d * (d + 1) / 2 + d,
            max_nodes,
        })
    }

    pub(crate) fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Nodes in all trees: what one row's exact contributions walk.
    pub(crate) fn n_nodes(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }

    /// The base value: margin expected before seeing any feature.
    pub(crate) fn expected_value(&self) -> f64 {
        self.expected_value
    }

    /// Raw margin (log-odds) of one row.
    pub(crate) fn margin(&self, row: &[f64]) -> f64 {
        debug_assert_eq!(row.len(), self.n_features);
        let mut m = self.base_score;
        for t in &self.trees {
            let mut i = 0u32;
            loop {
                let node = &t.nodes[i as usize];
                if node.is_leaf() {
                    m += node.value;
                    break;
                }
                i = node.child(row[node.feature as usize]);
            }
        }
        m
    }

    /// Exact Shapley contributions of one row into `out` (length `n_features`, overwritten).
    /// `expected_value() + out.sum() == margin(row)` up to f64 rounding.
    pub(crate) fn contributions(&self, row: &[f64], out: &mut [f64], scratch: &mut Scratch) {
        self.contributions_with(row, out, scratch, true);
    }

    fn contributions_with(
        &self,
        row: &[f64],
        out: &mut [f64],
        scratch: &mut Scratch,
        allow_fast: bool,
    ) {
        debug_assert_eq!(row.len(), self.n_features);
        debug_assert_eq!(out.len(), self.n_features);
        out.iter_mut().for_each(|v| *v = 0.0);
        if (!allow_fast || self.trees.iter().any(|t| t.fast.is_none()))
            && scratch.path.len() < self.buffer_len
        {
            scratch.path.resize(self.buffer_len, PathElement::default());
        }
        if scratch.cold.len() < self.max_nodes {
            scratch.cold.resize(self.max_nodes, 0);
        }
        for t in &self.trees {
            if t.nodes[0].is_leaf() {
                continue;
            }
            match &t.fast {
                Some(tables) if allow_fast => {
                    tables.accumulate(&t.nodes, row, &mut scratch.cold, out);
                }
                _ => recurse(
                    &t.nodes,
                    row,
                    out,
                    &mut scratch.path,
                    0,
                    0,
                    0,
                    1.0,
                    1.0,
                    u32::MAX,
                ),
            }
        }
    }
}

/// Reusable buffer for `Forest::contributions`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    path: Vec<PathElement>,
    cold: Vec<u32>,
}

fn depth_of(nodes: &[FlatNode], i: usize) -> usize {
    let n = &nodes[i];
    if n.is_leaf() {
        return 0;
    }
    let mut d = depth_of(nodes, n.left as usize).max(depth_of(nodes, n.right as usize));
    if n.has_missing_branch() {
        d = d.max(depth_of(nodes, n.missing as usize));
    }
    d + 1
}

/// Cover-weighted mean leaf value; identical recursion to forust's `get_average_leaf_weights`.
fn expected_value(nodes: &[FlatNode], i: usize) -> f64 {
    let n = &nodes[i];
    if n.is_leaf() {
        return n.value;
    }
    let mut w = nodes[n.left as usize].cover * expected_value(nodes, n.left as usize)
        + nodes[n.right as usize].cover * expected_value(nodes, n.right as usize);
    if n.has_missing_branch() {
        w += nodes[n.missing as usize].cover * expected_value(nodes, n.missing as usize);
    }
    w / n.cover
}

fn extend_path(path: &mut [PathElement], d: usize, zero: f64, one: f64, feature: u32) {
    path[d] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        pweight: if d == 0 { 1.0 } else { 0.0 },
    };
    let dp1 = (d + 1) as f64;
    for i in (0..d).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / dp1;
        path[i].pweight = zero * path[i].pweight * (d - i) as f64 / dp1;
    }
}

fn unwind_path(path: &mut [PathElement], d: usize, path_index: usize) {
    let one = path[path_index].one_fraction;
    let zero = path[path_index].zero_fraction;
    let dp1 = (d + 1) as f64;
    let mut next_one_portion = path[d].pweight;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one_portion * dp1 / ((i + 1) as f64 * one);
            next_one_portion = tmp - path[i].pweight * zero * (d - i) as f64 / dp1;
        } else {
            path[i].pweight = path[i].pweight * dp1 / (zero * (d - i) as f64);
        }
    }
    for i in path_index..d {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_path_sum(path: &[PathElement], d: usize, path_index: usize) -> f64 {
    let one = path[path_index].one_fraction;
    let zero = path[path_index].zero_fraction;
    let dp1 = (d + 1) as f64;
    let mut next_one_portion = path[d].pweight;
    let mut total = 0.0;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = next_one_portion * dp1 / ((i + 1) as f64 * one);
            total += tmp;
            next_one_portion = path[i].pweight - tmp * zero * (d - i) as f64 / dp1;
        } else if zero != 0.0 {
            total += path[i].pweight / zero / ((d - i) as f64 / dp1);
        }
    }
    total
}

/// One TreeSHAP recursion step. The path of this call lives at `buf[start..start + d + 1]`,
/// copied from the parent's segment that ends at `start`.
#[allow(clippy::too_many_arguments)]
fn recurse(
    nodes: &[FlatNode],
    row: &[f64],
    phi: &mut [f64],
    buf: &mut [PathElement],
    node_index: usize,
    parent_start: usize,
    mut d: usize,
    parent_zero: f64,
    parent_one: f64,
    parent_feature: u32,
) {
    let start = parent_start + d + 1;
    if d > 0 {
        buf.copy_within(parent_start..parent_start + d, start);
    }
    let path = &mut buf[start..];
    extend_path(path, d, parent_zero, parent_one, parent_feature);
    let node = &nodes[node_index];
    if node.is_leaf() {
        for i in 1..=d {
            let w = unwound_path_sum(path, d, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * node.value;
        }
        return;
    }
    let hot = node.child(row[node.feature as usize]);
    let mut incoming_zero = 1.0;
    let mut incoming_one = 1.0;
    if let Some(k) = (0..=d).find(|&k| path[k].feature == node.feature) {
        incoming_zero = path[k].zero_fraction;
        incoming_one = path[k].one_fraction;
        unwind_path(path, d, k);
        d -= 1;
    }
    let children: [u32; 3] = [node.left, node.right, node.missing];
    let n_children = if node.has_missing_branch() { 3 } else { 2 };
    for &c in &children[..n_children] {
        let child = &nodes[c as usize];
        let zero = child.cover / node.cover * incoming_zero;
        let one = if c == hot { incoming_one } else { 0.0 };
        recurse(
            nodes,
            row,
            phi,
            buf,
            c as usize,
            start,
            d + 1,
            zero,
            one,
            node.feature,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use forust_ml::Matrix;
    use forust_ml::gradientbooster::ContributionsMethod;

    /// A small booster on a problem with an interaction and missing values.
    fn booster(n: usize, iterations: usize, depth: usize) -> (GradientBooster, Vec<f64>, usize) {
        let p = 4;
        let mut r = SplitMix64::new(3);
        let mut cols = vec![0.0; n * p];
        let mut y = vec![0.0; n];
        for i in 0..n {
            let a = r.normal();
            let b = r.normal();
            let c = r.normal();
            let d = r.normal();
            let z = 1.5 * a * b + c - 0.5 * d;
            y[i] = if r.next_f64() < 1.0 / (1.0 + (-z).exp()) {
                1.0
            } else {
                0.0
            };
            cols[i] = a;
            cols[n + i] = if r.next_f64() < 0.2 { f64::NAN } else { b };
            cols[2 * n + i] = c;
            cols[3 * n + i] = (d * 2.0).round();
        }
        let m = Matrix::new(&cols, n, p);
        let mut b = GradientBooster::default()
            .set_iterations(iterations)
            .set_max_depth(depth)
            .set_learning_rate(0.3)
            .set_parallel(false);
        b.fit_unweighted(&m, &y, None).unwrap();
        (b, cols, p)
    }

    #[test]
    fn margins_match_forust_and_contributions_sum_exactly() {
        let n = 400;
        let (b, cols, p) = booster(n, 30, 4);
        let m = Matrix::new(&cols, n, p);
        let preds = b.predict(&m, false);
        let forust_contribs = b.predict_contributions(&m, ContributionsMethod::Shapley, false);
        let forest = Forest::from_booster(&b, &(0..p).collect::<Vec<_>>(), p).unwrap();
        let mut scratch = Scratch::default();
        let mut phi = vec![0.0; p];
        let mut worst_sum = 0.0f64;
        let mut worst_vs_forust = 0.0f64;
        for i in 0..n {
            let row: Vec<f64> = (0..p).map(|j| cols[j * n + i]).collect();
            let margin = forest.margin(&row);
            assert!(
                (margin - preds[i]).abs() < 1e-9,
                "row {i}: {margin} vs {}",
                preds[i]
            );
            forest.contributions(&row, &mut phi, &mut scratch);
            let total = forest.expected_value() + phi.iter().sum::<f64>();
            worst_sum = worst_sum.max((total - margin).abs());
            for j in 0..p {
                worst_vs_forust =
                    worst_vs_forust.max((phi[j] - forust_contribs[i * (p + 1) + j]).abs());
            }
            let bias = forust_contribs[i * (p + 1) + p];
            assert!((bias - forest.expected_value()).abs() < 1e-9);
        }
        assert!(worst_sum < 1e-9, "sum error {worst_sum}");
        assert!(
            worst_vs_forust < 1e-4,
            "disagreement with forust {worst_vs_forust}"
        );
    }

    /// Brute-force Shapley values of the TreeSHAP game on a single tree, from the definition.
    fn brute_force(nodes: &[FlatNode], row: &[f64], p: usize) -> Vec<f64> {
        fn cond_exp(nodes: &[FlatNode], i: usize, row: &[f64], s: u32) -> f64 {
            let n = &nodes[i];
            if n.is_leaf() {
                return n.value;
            }
            if s & (1 << n.feature) != 0 {
                return cond_exp(nodes, n.child(row[n.feature as usize]) as usize, row, s);
            }
            let mut kids = vec![n.left, n.right];
            if n.has_missing_branch() {
                kids.push(n.missing);
            }
            kids.iter()
                .map(|&c| nodes[c as usize].cover / n.cover * cond_exp(nodes, c as usize, row, s))
                .sum()
        }
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let mut phi = vec![0.0; p];
        for (j, ph) in phi.iter_mut().enumerate() {
            for s in 0u32..(1 << p) {
                if s & (1 << j) != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let w = fact(k) * fact(p - k - 1) / fact(p);
                *ph += w * (cond_exp(nodes, 0, row, s | (1 << j)) - cond_exp(nodes, 0, row, s));
            }
        }
        phi
    }

    #[test]
    fn matches_brute_force_shapley_per_tree() {
        let n = 300;
        let (b, cols, p) = booster(n, 5, 5);
        let forest = Forest::from_booster(&b, &(0..p).collect::<Vec<_>>(), p).unwrap();
        let mut scratch = Scratch::default();
        let mut phi = vec![0.0; p];
        for i in (0..n).step_by(37) {
            let row: Vec<f64> = (0..p).map(|j| cols[j * n + i]).collect();
            let mut expected = vec![0.0; p];
            for t in &forest.trees {
                for (e, v) in expected.iter_mut().zip(brute_force(&t.nodes, &row, p)) {
                    *e += v;
                }
            }
            forest.contributions(&row, &mut phi, &mut scratch);
            for j in 0..p {
                assert!((phi[j] - expected[j]).abs() < 1e-10, "row {i} f{j}");
            }
        }
    }

    #[test]
    fn leaf_tables_match_the_recursion_and_deep_trees_fall_back() {
        // 14 features, deep trees: some paths exceed MAX_FAST_PATH_FEATURES.
        let (n, p) = (600, 14);
        let mut r = SplitMix64::new(17);
        let cols: Vec<f64> = (0..n * p)
            .map(|_| {
                if r.next_f64() < 0.1 {
                    f64::NAN
                } else {
                    r.normal()
                }
            })
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let z: f64 = (0..p)
                    .map(|j| cols[j * n + i].clamp(0.0, 1.0).max(0.0) * (j % 3) as f64)
                    .sum();
                if r.next_f64() < sigmoid(z - 3.0) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let m = Matrix::new(&cols, n, p);
        let mut b = GradientBooster::default()
            .set_iterations(8)
            .set_max_depth(14)
            .set_max_leaves(200)
            .set_min_leaf_weight(0.0)
            .set_learning_rate(0.3)
            .set_parallel(false);
        b.fit_unweighted(&m, &y, None).unwrap();
        let forest = Forest::from_booster(&b, &(0..p).collect::<Vec<_>>(), p).unwrap();
        let fast = forest.trees.iter().filter(|t| t.fast.is_some()).count();
        assert!(fast < forest.trees.len(), "expected a fallback tree");
        let mut scratch = Scratch::default();
        let (mut a, mut c) = (vec![0.0; p], vec![0.0; p]);
        for i in (0..n).step_by(7) {
            let row: Vec<f64> = (0..p).map(|j| cols[j * n + i]).collect();
            forest.contributions_with(&row, &mut a, &mut scratch, true);
            forest.contributions_with(&row, &mut c, &mut scratch, false);
            for j in 0..p {
                assert!(
                    (a[j] - c[j]).abs() < 1e-10,
                    "row {i} f{j}: {} vs {}",
                    a[j],
                    c[j]
                );
            }
            let total = forest.expected_value() + a.iter().sum::<f64>();
            assert!((total - forest.margin(&row)).abs() < 1e-9);
        }
        // And on shallow trees, where every tree uses the tables.
        let (b, cols, p) = booster(300, 10, 4);
        let forest = Forest::from_booster(&b, &(0..p).collect::<Vec<_>>(), p).unwrap();
        assert!(forest.trees.iter().all(|t| t.fast.is_some()));
        let (mut a, mut c) = (vec![0.0; p], vec![0.0; p]);
        for i in 0..300 {
            let row: Vec<f64> = (0..p).map(|j| cols[j * 300 + i]).collect();
            forest.contributions_with(&row, &mut a, &mut scratch, true);
            forest.contributions_with(&row, &mut c, &mut scratch, false);
            for j in 0..p {
                assert!((a[j] - c[j]).abs() < 1e-10);
            }
        }
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn rejects_out_of_range_features() {
        let (b, _, _) = booster(100, 3, 3);
        assert!(matches!(
            Forest::from_booster(&b, &[0], 4),
            Err(ModelError::InvalidModel { .. })
        ));
    }
}
