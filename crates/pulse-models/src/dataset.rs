//! `Dataset`: a validated numeric design matrix (NaN = missing) with binary labels, feature names
//! and optional per-row time and group keys.
//!
//! Invariants, checked by every constructor: at least one row and one column, one label (and one
//! time / group value when present) per row, one unique name per column, every value finite or
//! NaN, and both classes present.

use ndarray::{Array2, ArrayView2, Axis};
use std::collections::HashSet;
use std::sync::Arc;

use crate::error::DatasetError;

/// Training / evaluation data for a binary classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Shared, so that datasets over one matrix (the churn and expansion
    /// labels of the same snapshots) and clones do not copy it.
    x: Arc<Array2<f64>>,
    y: Vec<bool>,
    feature_names: Vec<String>,
    time: Option<Vec<i64>>,
    groups: Option<Vec<i64>>,
}

/// Checks that `names` has one unique entry per column.
pub(crate) fn check_feature_names(cols: usize, names: &[String]) -> Result<(), DatasetError> {
    if names.len() != cols {
        return Err(DatasetError::FeatureNamesMismatch {
            cols,
            names: names.len(),
        });
    }
    let mut seen = HashSet::with_capacity(names.len());
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(DatasetError::DuplicateFeatureName { name: n.clone() });
        }
    }
    Ok(())
}

/// Checks that every value is finite or NaN (NaN means missing).
pub(crate) fn check_values(x: ArrayView2<'_, f64>, names: &[String]) -> Result<(), DatasetError> {
    for (row, r) in x.axis_iter(Axis(0)).enumerate() {
        for (c, v) in r.iter().enumerate() {
            if v.is_infinite() {
                return Err(DatasetError::NonFinite {
                    row,
                    column: names[c].clone(),
                });
            }
        }
    }
    Ok(())
}

fn check_classes(y: &[bool]) -> Result<(), DatasetError> {
    let positives = y.iter().filter(|&&v| v).count();
    if positives == 0 || positives == y.len() {
        return Err(DatasetError::SingleClass {
            rows: y.len(),
            positives,
        });
    }
    Ok(())
}

impl Dataset {
    /// Validates and wraps a design matrix. `x` rows are examples, columns are features;
    /// missing values are NaN.
    pub fn new(
        x: Array2<f64>,
        y: Vec<bool>,
        feature_names: Vec<String>,
    ) -> Result<Self, DatasetError> {
        Self::shared(Arc::new(x), y, feature_names)
    }

    /// [`Self::new`] over a matrix shared with its other users, not copied.
    pub fn shared(
        x: Arc<Array2<f64>>,
        y: Vec<bool>,
        feature_names: Vec<String>,
    ) -> Result<Self, DatasetError> {
        let (rows, cols) = x.dim();
        if rows == 0 || cols == 0 {
            return Err(DatasetError::Empty { rows, cols });
        }
        if y.len() != rows {
            return Err(DatasetError::LengthMismatch {
                what: "labels",
                rows,
                got: y.len(),
            });
        }
        check_feature_names(cols, &feature_names)?;
        check_values(x.view(), &feature_names)?;
        check_classes(&y)?;
        Ok(Self {
            x,
            y,
            feature_names,
            time: None,
            groups: None,
        })
    }

    /// Attaches a time key per row (Pulse uses day numbers; any monotone integer works).
    pub fn with_time(mut self, time: Vec<i64>) -> Result<Self, DatasetError> {
        if time.len() != self.n_rows() {
            return Err(DatasetError::LengthMismatch {
                what: "time",
                rows: self.n_rows(),
                got: time.len(),
            });
        }
        self.time = Some(time);
        Ok(self)
    }

    /// Attaches a group key per row (e.g. an account index): splits keep a group on one side,
    /// so repeated snapshots of one customer never leak between train and test.
    pub fn with_groups(mut self, groups: Vec<i64>) -> Result<Self, DatasetError> {
        if groups.len() != self.n_rows() {
            return Err(DatasetError::LengthMismatch {
                what: "groups",
                rows: self.n_rows(),
                got: groups.len(),
            });
        }
        self.groups = Some(groups);
        Ok(self)
    }

    pub fn x(&self) -> ArrayView2<'_, f64> {
        self.x.view()
    }
    pub fn y(&self) -> &[bool] {
        &self.y
    }
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    pub fn time(&self) -> Option<&[i64]> {
        self.time.as_deref()
    }
    pub fn groups(&self) -> Option<&[i64]> {
        self.groups.as_deref()
    }
    pub fn n_rows(&self) -> usize {
        self.x.nrows()
    }
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }
    pub fn n_positive(&self) -> usize {
        self.y.iter().filter(|&&v| v).count()
    }
    /// Share of positive labels.
    pub fn positive_rate(&self) -> f64 {
        self.n_positive() as f64 / self.n_rows() as f64
    }
    /// Column index of a feature name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.feature_names.iter().position(|n| n == name)
    }
    /// Unwraps the parts (matrix, labels, names, time, groups).
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> (
        Array2<f64>,
        Vec<bool>,
        Vec<String>,
        Option<Vec<i64>>,
        Option<Vec<i64>>,
    ) {
        (
            Arc::unwrap_or_clone(self.x),
            self.y,
            self.feature_names,
            self.time,
            self.groups,
        )
    }

    /// The labels of the rows at `indices` (in that order), checked as
    /// [`Self::select_rows`] checks them: in range, at least one, both classes.
    pub fn labels_of(&self, indices: &[usize]) -> Result<Vec<bool>, DatasetError> {
        let rows = self.n_rows();
        if let Some(&index) = indices.iter().find(|&&i| i >= rows) {
            return Err(DatasetError::RowOutOfRange { index, rows });
        }
        if indices.is_empty() {
            return Err(DatasetError::Empty {
                rows: 0,
                cols: self.n_features(),
            });
        }
        let y: Vec<bool> = indices.iter().map(|&i| self.y[i]).collect();
        check_classes(&y)?;
        Ok(y)
    }

    /// The rows at `indices` (in that order), keeping time and groups; must contain both classes.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Self, DatasetError> {
        let y = self.labels_of(indices)?;
        Ok(Self {
            x: Arc::new(self.x.select(Axis(0), indices)),
            y,
            feature_names: self.feature_names.clone(),
            time: self
                .time
                .as_ref()
                .map(|t| indices.iter().map(|&i| t[i]).collect()),
            groups: self
                .groups
                .as_ref()
                .map(|g| indices.iter().map(|&i| g[i]).collect()),
        })
    }

    /// The dataset without the named columns (all names must exist; at least one column must
    /// remain).
    pub fn drop_features(&self, names: &[String]) -> Result<Self, DatasetError> {
        let mut drop = HashSet::new();
        for n in names {
            let i = self
                .feature_index(n)
                .ok_or_else(|| DatasetError::UnknownFeature { name: n.clone() })?;
            drop.insert(i);
        }
        let keep: Vec<usize> = (0..self.n_features())
            .filter(|i| !drop.contains(i))
            .collect();
        if keep.is_empty() {
            return Err(DatasetError::Empty {
                rows: self.n_rows(),
                cols: 0,
            });
        }
        Ok(Self {
            x: Arc::new(self.x.select(Axis(1), &keep)),
            y: self.y.clone(),
            feature_names: keep
                .iter()
                .map(|&i| self.feature_names[i].clone())
                .collect(),
            time: self.time.clone(),
            groups: self.groups.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn validates_shape_values_and_classes() {
        let x = array![[1.0, f64::NAN], [2.0, 3.0], [0.5, 1.0]];
        let ok = Dataset::new(x.clone(), vec![true, false, false], names(2)).unwrap();
        assert_eq!(ok.n_positive(), 1);
        assert!((ok.positive_rate() - 1.0 / 3.0).abs() < 1e-12);

        assert_eq!(
            Dataset::new(x.clone(), vec![true, false], names(2)),
            Err(DatasetError::LengthMismatch {
                what: "labels",
                rows: 3,
                got: 2
            })
        );
        assert_eq!(
            Dataset::new(x.clone(), vec![true, false, true], names(3)),
            Err(DatasetError::FeatureNamesMismatch { cols: 2, names: 3 })
        );
        assert_eq!(
            Dataset::new(
                x.clone(),
                vec![true, false, true],
                vec!["a".into(), "a".into()]
            ),
            Err(DatasetError::DuplicateFeatureName { name: "a".into() })
        );
        assert_eq!(
            Dataset::new(x.clone(), vec![false; 3], names(2)),
            Err(DatasetError::SingleClass {
                rows: 3,
                positives: 0
            })
        );
        let mut bad = x.clone();
        bad[[2, 1]] = f64::INFINITY;
        assert_eq!(
            Dataset::new(bad, vec![true, false, true], names(2)),
            Err(DatasetError::NonFinite {
                row: 2,
                column: "f1".into()
            })
        );
        assert_eq!(
            Dataset::new(Array2::zeros((0, 2)), vec![], names(2)),
            Err(DatasetError::Empty { rows: 0, cols: 2 })
        );
        assert!(matches!(
            ok.clone().with_time(vec![1, 2]),
            Err(DatasetError::LengthMismatch { what: "time", .. })
        ));
    }

    #[test]
    fn select_and_drop() {
        let x = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        let ds = Dataset::new(x, vec![true, false, true], names(3))
            .unwrap()
            .with_time(vec![10, 20, 30])
            .unwrap();
        let sub = ds.select_rows(&[2, 1]).unwrap();
        assert_eq!(sub.x()[[0, 0]], 7.0);
        assert_eq!(sub.time(), Some(&[30, 20][..]));
        assert!(matches!(
            ds.select_rows(&[0, 2]),
            Err(DatasetError::SingleClass { .. })
        ));
        assert!(matches!(
            ds.select_rows(&[5]),
            Err(DatasetError::RowOutOfRange { .. })
        ));
        let dropped = ds.drop_features(&["f1".to_string()]).unwrap();
        assert_eq!(
            dropped.feature_names(),
            &["f0".to_string(), "f2".to_string()]
        );
        assert_eq!(dropped.x()[[1, 1]], 6.0);
        assert!(matches!(
            ds.drop_features(&["nope".to_string()]),
            Err(DatasetError::UnknownFeature { .. })
        ));
    }
}
