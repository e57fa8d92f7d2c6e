"""Held-out figures for the groove: velocity and timing of every kept hit of GMD validation
drumming against what the groove (fitted on train) predicts for its step, beside two baselines:
constant velocity on a straight grid (each class's median velocity on train, offset 0) and
per-step means (each class's mean velocity and offset at each of the 16 steps on train); per-step
medians too, so a win is the context's and not only the fit's. Errors: velocity MAE on the 0..1
scale, timing MAE in milliseconds at 120 BPM (a 16th is 125 ms).

    python bench/groove_eval.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gridtonic.prior import groove
from gridtonic.prior.drums import CLASS_ID, CLASSES

GMD = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "groove-midi-dataset"
STEP_MS = 125.0  # a 16th at 120 BPM
SHOWN = ("kick", "snare", "closed hat", "open hat", "ride")


def per_step(train: groove.Samples, held: groove.Samples, stat) -> np.ndarray:
    out = np.zeros((len(held.cls), 2))
    for c in np.unique(held.cls):
        for j in range(16):
            t = (train.cls == c) & (train.step == j)
            h = (held.cls == c) & (held.step == j)
            if t.any():
                out[h] = [stat(train.velocity[t]), stat(train.offset[t])]
    return out


def main() -> None:
    if not (GMD / "info.csv").is_file():
        raise SystemExit(f"groove_eval: no GMD at {GMD}")
    performances = groove.performances_of(GMD, "train")
    train = groove.Samples.of(performances)
    held = groove.Samples.of(groove.performances_of(GMD, "validation"))
    model = groove.GrooveModel(groove.learn(performances))
    predictions = {
        "constant/straight": np.stack([
            np.array([np.median(train.velocity[train.cls == c]) for c in held.cls]),
            np.zeros(len(held.cls))], axis=1),
        "per-step mean": per_step(train, held, np.mean),
        "per-step median": per_step(train, held, np.median),
        "groove": _predict(model, held),
    }
    print(f"GMD train {len(train.cls)} hits fitted, validation {len(held.cls)} hits scored")
    print(f"{'class':<12}{'hits':>7} | " + " | ".join(f"{n:^17}" for n in predictions))
    print(f"{'':<19} | " + " | ".join(f"{'vel MAE':>8} {'ms':>8}" for _ in predictions))
    for name in (*SHOWN, "all"):
        keep = held.cls == CLASS_ID[name] if name != "all" else np.ones(len(held.cls), bool)
        cells = []
        for p in predictions.values():
            vel = np.abs(p[keep, 0] - held.velocity[keep]).mean()
            ms = np.abs(p[keep, 1] - held.offset[keep]).mean() * STEP_MS
            cells.append(f"{vel:>8.4f} {ms:>8.2f}")
        print(f"{name:<12}{keep.sum():>7} | " + " | ".join(cells))


def _predict(model: groove.GrooveModel, held: groove.Samples) -> np.ndarray:
    out = np.zeros((len(held.cls), 2))
    for c in range(len(CLASSES)):
        k = held.cls == c
        if k.any():
            out[k] = model.predict(c, held.own[k], held.basis[k], held.step[k])
    return out


if __name__ == "__main__":
    main()
