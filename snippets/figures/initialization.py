"""Figures of chapter 3 (Initialization / 参数初始化), drawn from the numbers the chapter computes."""

from __future__ import annotations

import contextlib
import io
import math
import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

TEXT = {
    "en": {
        "hist_title": "Weights of a 1000 x 500 matrix under each scheme",
        "weight": "weight value",
        "density": "density",
        "measured": "measured",
        "theory": "theory",
        "std": "std",
        "depth_title": "Mean square of the activations, layer by layer (width 256)",
        "layer": "layer (0 = input)",
        "act_ms": "mean square of the activations (log scale)",
        "zero_note": "zero init: 0 from layer 1 on\n(not drawable on a log scale)",
        "names": {"default (Linear)": "default of nn.Linear"},
        "inits": {},
    },
    "zh": {
        "hist_title": "各种方案下 1000 x 500 权重矩阵的取值分布",
        "weight": "权重值",
        "density": "密度",
        "measured": "实测",
        "theory": "理论",
        "std": "标准差",
        "depth_title": "逐层激活值的均方值（宽度 256）",
        "layer": "层（0 = 输入）",
        "act_ms": "激活值的均方值（对数坐标）",
        "zero_note": "全零初始化：从第 1 层起为 0\n（对数坐标上画不出）",
        "names": {"default (Linear)": "nn.Linear 的默认初始化"},
        "inits": {"zero": "全零", "Xavier, gain 5/3": "Xavier，增益 5/3", "Kaiming (ReLU)": "Kaiming（针对 ReLU）"},
    },
}
HISTOGRAMS = ["default (Linear)", "normal(0, 0.01)", "xavier_uniform", "xavier_normal", "kaiming_uniform",
              "kaiming_normal"]


def _chapter() -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        return runpy.run_path(str(Path(__file__).resolve().parents[1] / "initialization.py"))


def _style(lang: str) -> None:
    plt.rcParams.update(plt.rcParamsDefault)
    if lang == "zh":
        plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False


def _histograms(chapter: dict, text: dict, path: Path) -> Path:
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.6))
    for ax, name in zip(axes.flat, HISTOGRAMS):
        values = chapter["samples"][name].flatten().numpy()
        std = chapter["schemes"][name][1]
        edge = 1.15 * float(np.abs(values).max())  # a margin, so that a uniform's edges show
        counts, edges = np.histogram(values, bins=60, range=(-edge, edge), density=True)
        ax.stairs(counts, edges, fill=True, alpha=0.6, label=text["measured"])
        x = np.linspace(edges[0], edges[-1], 200)
        if "normal" in name:
            density = np.exp(-x**2 / (2 * std**2)) / (std * math.sqrt(2 * math.pi))
        else:  # uniform on (-bound, bound) with bound = std * sqrt(3)
            bound = std * math.sqrt(3)
            density = np.where(np.abs(x) <= bound, 1 / (2 * bound), 0.0)
        ax.plot(x, density, color="black", linewidth=1.2, label=text["theory"])
        ax.set_title(f"{text['names'].get(name, name)}\n{text['std']} {std:.4f}", fontsize=10)
        ax.tick_params(labelsize=8)
        ax.set_ylim(0, 1.25 * max(counts.max(), density.max()))
        ax.set_yticks([])
    for ax in axes[1]:
        ax.set_xlabel(text["weight"], fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel(text["density"], fontsize=9)
    axes.flat[0].legend(fontsize=8, loc="lower center")
    fig.suptitle(text["hist_title"], fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def _depth(chapter: dict, text: dict, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    names = list(chapter["deep_inits"])
    colors = dict(zip(names, plt.get_cmap("tab10").colors))
    for ax, activation, title in zip(axes, ("tanh", "relu"), ("tanh", "ReLU")):
        for name in names:
            mean_squares = chapter["depth_mean_squares"][activation, name]
            if name == "zero":
                continue  # all zero after the input: no place on a log scale
            ax.plot(range(len(mean_squares)), mean_squares, marker="o", markersize=3, color=colors[name],
                    label=text["inits"].get(name, name))
        ax.axhline(1, color="gray", linestyle="--", linewidth=0.8)  # the mean square of the input
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel(text["layer"])
        ax.set_xticks(range(0, len(mean_squares), 5))
        ax.grid(True, which="major", alpha=0.3)
        ax.text(0.03, 0.03, text["zero_note"], transform=ax.transAxes, ha="left", va="bottom", fontsize=8,
                color=colors["zero"])
    axes[0].set_ylabel(text["act_ms"])
    axes[1].legend(fontsize=8, loc="upper left")
    fig.suptitle(text["depth_title"], fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def draw(lang: str, out_dir: Path) -> list[Path]:
    chapter = _chapter()
    _style(lang)
    text = TEXT[lang]
    return [
        _histograms(chapter, text, Path(out_dir) / "init-weight-distributions.png"),
        _depth(chapter, text, Path(out_dir) / "init-activation-mean-square.png"),
    ]
