"""Reference values pinned in pulse-models' unit tests (scikit-learn 1.9.1, numpy 2.x).

Run: python3 sklearn_reference.py   (needs scikit-learn; prints Rust constants)
"""
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, brier_score_loss, log_loss
from sklearn.calibration import _sigmoid_calibration
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression

# metrics.rs
P = np.array([0.1, 0.35, 0.35, 0.8, 0.8, 0.05, 0.6, 0.35, 0.92, 0.1, 0.45, 0.7])
Y = np.array([0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0])
print(f"const SK_ROC_AUC: f64 = {roc_auc_score(Y, P)!r};")
print(f"const SK_AP: f64 = {average_precision_score(Y, P)!r};")
print(f"const SK_BRIER: f64 = {brier_score_loss(Y, P)!r};")
print(f"const SK_LOG_LOSS: f64 = {log_loss(Y, P)!r};")

# calibration.rs: p = 1 / (1 + exp(A f + B))  ->  a = -A, b = -B
f = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
y = np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 1])
A, B = _sigmoid_calibration(f, y)
print(f"const PLATT_A: f64 = {float(-A)!r};")
print(f"const PLATT_B: f64 = {float(-B)!r};")

# logistic.rs: median imputation + StandardScaler + LogisticRegression(C=1) (= linfa alpha 1)
X = np.array([
    [1.0, 20.0, 0.0], [2.0, 18.0, 1.0], [np.nan, 25.0, 0.0], [4.0, 30.0, 1.0],
    [5.0, np.nan, 1.0], [6.0, 12.0, 0.0], [7.0, 40.0, 1.0], [8.0, 35.0, 0.0],
    [9.0, 15.0, 1.0], [10.0, 22.0, 0.0], [3.0, 28.0, 1.0], [6.5, 19.0, 0.0],
])
t = np.array([0, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0])
Z = StandardScaler().fit_transform(SimpleImputer(strategy="median").fit_transform(X))
lr = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(Z, t)
print(f"const SK_COEF: [f64; 3] = {[float(c) for c in lr.coef_[0]]!r};")
print(f"const SK_INTERCEPT: f64 = {float(lr.intercept_[0])!r};")

# calibration.rs: IsotonicRegression(out_of_bounds="clip") on margins with ties
from sklearn.isotonic import IsotonicRegression
xi = np.array([-3.0, -2.5, -2.5, -2.0, -1.2, -1.0, -0.3, 0.0, 0.0, 0.4, 0.9, 1.1, 1.5, 2.0, 2.2, 3.0])
yi = np.array([0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1])
probe = np.array([-4.0, -2.5, -2.25, -1.1, 0.0, 0.2, 0.95, 1.8, 2.1, 5.0])
iso = IsotonicRegression(out_of_bounds="clip").fit(xi, yi)
print(f"const SK_ISO: [f64; {len(probe)}] = {[float(v) for v in iso.predict(probe)]!r};")
