"""tune.py's report: every trial of the search, best first, and its two plots."""

import numpy as np

from distiller.report import figure, save


def render(rows, best, meta):
    """The tuner's trials, best first, with the gain over the plain Student and where distillation hurt."""
    val_size, plain = meta["val_size"], best["plain_student_val_accuracy"]
    errors = lambda accuracy: round((1 - accuracy) * val_size)
    hurt = sorted({(r["lambda_"], r["temperature"]) for r in rows if r["lambda_"] > 0 and r["val_accuracy"] < plain})
    lines = [
        "# Search of Student2.0's T, lambda, epochs and views (validation split only)", "",
        (f"_{meta['date']}, {meta['machine']}; `{meta['command']}`: {meta['tuner']} tuner, {len(rows)} trials, "
        f"seed {meta['seed']}, {meta['seconds']:.0f} s of wall time._"), "",
        (f"Best: T = {best['temperature']:g}, lambda = {best['lambda_']:g}, {best['epochs']} epochs, "
        f"{best['views']} views: validation accuracy "
        f"{100 * best['val_accuracy']:.2f}% ({errors(best['val_accuracy'])} errors of {val_size}) against "
        f"{100 * plain:.2f}% ({errors(plain)} errors) for the plain Student trained {meta['epochs']} epochs "
        f"from the same initial weights: a gain of {errors(plain) - errors(best['val_accuracy'])} errors."), "",
        "Distillation hurt (lambda > 0, below the plain Student) at (lambda, T): "
        + (", ".join(f"({lam:g}, {t:g})" for lam, t in hurt) or "nowhere among these trials") + ".", "",
        "| trial | T | lambda | views | val accuracy | val errors | epochs | best epoch | seconds |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['trial']} | {r['temperature']:g} | {r['lambda_']:g} | {r.get('views', 'fixed')} | "
                     f"{100 * r['val_accuracy']:.2f}% | "
                     f"{errors(r['val_accuracy'])} | {r['epochs']} | {r['best_epoch']} | {r['seconds']} |")
    lines += ["", "![validation accuracy against T](accuracy_vs_temperature.png)", "",
              "![lambda x T heatmap](heatmap.png)", ""]
    return "\n".join(lines)


def plot(rows, plain_accuracy, folder):
    temperatures = sorted({r["temperature"] for r in rows})
    lambdas = sorted({r["lambda_"] for r in rows})
    grid = np.full((len(lambdas), len(temperatures)), np.nan)
    for r in rows:  # the best score where a pair was tried more than once (Hyperband rounds)
        i, j = lambdas.index(r["lambda_"]), temperatures.index(r["temperature"])
        grid[i, j] = np.nanmax([grid[i, j], 100 * r["val_accuracy"]])

    fig, ax = figure()
    for i, lam in enumerate(lambdas):
        tried = ~np.isnan(grid[i])
        ax.plot(np.array(temperatures)[tried], grid[i][tried], "o-", label=f"lambda = {lam:g}")
    ax.axhline(100 * plain_accuracy, color="gray", linestyle="--", label="plain Student")
    ax.set(xscale="log", xlabel="temperature T", ylabel="validation accuracy (%)", title="Student2.0 by T and lambda")
    ax.legend(fontsize=8)
    save(fig, folder / "accuracy_vs_temperature.png")

    fig, ax = figure((7, 4))
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(temperatures)), [f"{t:g}" for t in temperatures])
    ax.set_yticks(range(len(lambdas)), [f"{lam:g}" for lam in lambdas])
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.set(xlabel="temperature T", ylabel="lambda", title="validation accuracy (%); blank: not tried")
    fig.colorbar(image)
    save(fig, folder / "heatmap.png")
