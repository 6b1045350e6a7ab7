"""Fitting the GPU factors of the Jetson law to Table 1, and calibrating the NX's architecture factor.

fit: u_dense, u_dwconv, u_mem (shared by all devices and models) by Levenberg-Marquardt on
log(derived epoch / Table 1 epoch) for the six anchors plus a log-normal prior per factor.
calibrate_volta: eff_volta (NX only) so that ResNet50's NX/Nano per-sample step-time ratio equals
cfg.nx_nano_resnet50; Nano and TX2 times do not depend on it, so the fit is untouched.
numpy only.
"""

import math

import numpy as np

from jetson_law import DEVICES, PARAMS, PRIORS, TABLE1, VOLTA, epoch_time, step_time


def least_squares_log(residuals, x0):
    """Levenberg-Marquardt on residuals(x) from x0 (x: log factors); returns x. Shared by the Jetson
    fit and the CPU fit (cpu_fit.py)."""
    x = np.array(x0, dtype=float)
    mu = 1e-2
    r = residuals(x)
    for _ in range(500):
        J = np.empty((len(r), len(x)))
        for j in range(len(x)):
            e = np.zeros(len(x))
            e[j] = 1e-6
            J[:, j] = (residuals(x + e) - r) / 1e-6
        dx = np.linalg.solve(J.T @ J + mu * np.eye(len(x)), -J.T @ r)
        r_new = residuals(x + dx)
        if (r_new ** 2).sum() < (r ** 2).sum():
            x, r = x + dx, r_new
            mu = max(mu * 0.3, 1e-9)
            if np.abs(dx).max() < 1e-9:
                break
        else:
            mu *= 10
            if mu > 1e9:
                break
    return x


def fit(models, cfg):
    x0 = np.log([PRIORS[n] for n in PARAMS])
    anchors = sorted(TABLE1)

    def residuals(x):
        p = dict(zip(PARAMS, np.exp(x)))
        r = [math.log(epoch_time(m, d, p, models, cfg) / TABLE1[(m, d)]) for (m, d) in anchors]
        r += [cfg.prior_weight * (x[i] - x0[i]) for i in range(len(PARAMS))]
        return np.array(r)

    x = least_squares_log(residuals, x0)
    return dict(zip(PARAMS, (float(v) for v in np.exp(x))))


def ratio(model, num, den, p, models, cfg):
    """Per-sample step-time ratio den/num... i.e. how many times faster `num` is than `den`."""
    b = cfg.table1_batch.get(model, 32)
    return (step_time(models[model], den, model, p, cfg, b)
            / step_time(models[model], num, model, p, cfg, b))


def calibrate_volta(p, models, cfg):
    """eff_volta by bisection in log space (the NX/Nano ratio grows monotonically with it)."""
    q = dict(p)
    lo, hi = math.log(0.2), math.log(20.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        q[VOLTA] = math.exp(mid)
        if ratio("resnet50", "jetson_xavier_nx", "jetson_nano", q, models, cfg) < cfg.nx_nano_resnet50:
            lo = mid
        else:
            hi = mid
    q[VOLTA] = math.exp(0.5 * (lo + hi))
    return q


def fit_all(models, cfg):
    """The fitted factors plus eff_volta, and the Table 1 errors (fraction) by 'model/device'."""
    p = calibrate_volta(fit(models, cfg), models, cfg)
    errors = {f"{m}/{d}": round(epoch_time(m, d, p, models, cfg) / TABLE1[(m, d)] - 1, 4)
              for (m, d) in sorted(TABLE1)}
    return p, errors


__all__ = ["fit", "calibrate_volta", "fit_all", "ratio", "DEVICES"]
