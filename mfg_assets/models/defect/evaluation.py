"""Scoring a trained detector on a dataset split: mAP, precision/recall, confusion matrix.

Metric keys (flat, MLflow-safe): ``map50``, ``map50_95``, ``precision``, ``recall``, ``fitness``
overall, and ``<metric>/<class>`` per class plus ``instances/<class>``. A class with no boxes
in the split has no per-class entries (its AP is undefined). ``precision``/``recall`` are at
the confidence that maximises mean F1, as Ultralytics reports them.

The confusion matrix (classes + ``background``; rows predicted, columns true; Ultralytics'
matching at IoU 0.45) is counted at the serving confidence threshold (0.25) and drawn here with
matplotlib's Agg backend and its bundled font, so nothing is fetched.

Weights come from MLflow (champion and challenger): they are checked against the digest recorded
at registration and loaded with Ultralytics' safe loading (``weights_only=True``), never
unpickled freely (:func:`runtime.load_checkpoint_safely`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.models.defect.runtime import cpu_threads, load_checkpoint_safely, resolve_device

METRIC_KEYS: tuple[str, ...] = ("map50", "map50_95", "precision", "recall", "fitness")
PER_CLASS_KEYS: tuple[str, ...] = ("map50", "map50_95", "precision", "recall", "instances")


def summarize_metrics(det_metrics: Any, names: Sequence[str]) -> dict[str, float]:
    """Flat metric dict from an Ultralytics ``DetMetrics``."""
    mp, mr, map50, map50_95 = (float(x) for x in det_metrics.mean_results())
    out = {
        "precision": mp,
        "recall": mr,
        "map50": map50,
        "map50_95": map50_95,
        "fitness": float(det_metrics.fitness),
    }
    counts = getattr(det_metrics, "nt_per_class", None)
    for i, class_index in enumerate(det_metrics.ap_class_index):
        name = names[int(class_index)]
        p, r, ap50, ap = det_metrics.class_result(i)
        out[f"precision/{name}"] = float(p)
        out[f"recall/{name}"] = float(r)
        out[f"map50/{name}"] = float(ap50)
        out[f"map50_95/{name}"] = float(ap)
        if counts is not None and len(counts) > int(class_index):
            out[f"instances/{name}"] = float(counts[int(class_index)])
    return out


def per_class_table(metrics: dict[str, float], names: Sequence[str]) -> list[dict[str, Any]]:
    """Rows ``{class, instances, precision, recall, map50, map50_95}`` for the classes present."""
    rows = []
    for name in names:
        if f"map50/{name}" not in metrics:
            continue
        rows.append({"class": name, **{k: metrics.get(f"{k}/{name}") for k in PER_CLASS_KEYS}})
    return rows


def evaluate_detector(
    weights: str | Path,
    data_yaml: str | Path,
    split: str = "test",
    *,
    imgsz: int | None = None,
    batch: int = 16,
    device: str = "cpu",
    out_dir: str | Path | None = None,
    threads: int | None = None,
    confusion_conf: float = 0.25,
    expected_sha256: str | None = None,
) -> dict[str, Any]:
    """Score ``weights`` (a ``.pt`` from training) on one split of a YOLO dataset.

    ``expected_sha256``: the weights' registered digest; a mismatch is refused
    (``ArtifactIntegrityError``) before the file is read as a checkpoint. A checkpoint that
    needs anything outside Ultralytics' allow-list (code) is refused with a ``TypeError``.

    Returns ``{"metrics": {...}, "per_class": [...], "confusion_matrix": [[...]],
    "confusion_matrix_png": path, "classes": [...], "split": ..., "images": n}``; the matrix is
    counted at ``confusion_conf``, the metrics over all confidences. The same
    dict (minus the matrix PNG) is written to ``<out_dir>/evaluation.json``.
    """
    weights, data_yaml = Path(weights), Path(data_yaml)
    if not weights.is_file():
        raise FileNotFoundError(f"no weights file {weights}")
    if not data_yaml.is_file():
        raise FileNotFoundError(f"no dataset yaml {data_yaml}")
    model = load_checkpoint_safely(weights, expected_sha256)
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="defect_eval_"))
    out.mkdir(parents=True, exist_ok=True)
    trained_at = (model.ckpt or {}).get("train_args", {}).get("imgsz") if model.ckpt else None
    size = int(imgsz or trained_at or 320)
    common = {
        "data": str(data_yaml),
        "split": split,
        "imgsz": size,
        "batch": batch,
        "device": resolve_device(device),
        "workers": 0,
        "project": str(out),
        "exist_ok": True,
        "verbose": False,
    }
    with cpu_threads(threads):
        # mAP over the whole confidence range (Ultralytics' val conf 0.001)
        det = model.val(**common, plots=False, name="ultralytics")
        # confusion matrix at the serving threshold: Ultralytics counts it at the val conf
        # (0.001 would fill the background column with every low-score candidate) and only
        # when plotting
        at_threshold = model.val(
            **common, conf=confusion_conf, plots=True, name=f"confusion_conf{confusion_conf:g}"
        )
    names = [model.names[i] for i in sorted(model.names)]
    metrics = summarize_metrics(det, names)
    matrix = np.asarray(at_threshold.confusion_matrix.matrix, dtype=float)
    png = plot_confusion_matrix(matrix, [*names, "background"], out / "confusion_matrix.png")
    result: dict[str, Any] = {
        "split": split,
        "images": int(getattr(det, "seen", 0)) or _count_images(data_yaml, split),
        "classes": names,
        "metrics": metrics,
        "per_class": per_class_table(metrics, names),
        "confusion_matrix": matrix.astype(int).tolist(),
        "confusion_conf": confusion_conf,
        "imgsz": size,
        "weights": str(weights),
    }
    (out / "evaluation.json").write_text(json.dumps(result, indent=2))
    result["confusion_matrix_png"] = png
    return result


def _count_images(data_yaml: Path, split: str) -> int:
    import yaml

    spec = yaml.safe_load(data_yaml.read_text())
    folder = Path(spec["path"]) / spec[split]
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], path: str | Path) -> Path:
    """Confusion-matrix heat map (rows predicted, columns true) with counts, as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.4, 5.4), dpi=110)
    ax = fig.add_subplot()
    col_sums = matrix.sum(axis=0, keepdims=True)
    share = np.divide(matrix, col_sums, out=np.zeros_like(matrix), where=col_sums > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true column")
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            color = "white" if share[row, col] > 0.5 else "black"
            ax.text(col, row, f"{int(value)}", ha="center", va="center", color=color, fontsize=8)
    ax.set_title("defect detector: confusion matrix")
    fig.tight_layout()
    fig.savefig(path)
    return path
