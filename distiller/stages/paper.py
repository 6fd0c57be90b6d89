"""The paper's protocol: a regularized teacher (2-pixel jitter, dropout, max-norm), and unregularized
students 800-800 and 600-600 on the un-jittered images, plain and distilled at the paper's T = 20
(lambda = 1) and at the run's T and lambda (the tuner's best), each distilled student paired with a
plain one from the same initial weights."""

import numpy as np

from distiller import resume
from distiller.report import provenance, spread
from distiller.stages.shared import distilled_per_setting, errors_per_seed, seeds_of, test_errors

NAME = "paper"
# Hinton et al. 2015: teacher 67 test errors, student 146, distilled student 74; the best public MLP
# reproduction: 100, 171, 111.
PAPER = {"teacher": 67, "student": 146, "student_kd": 74, "best_public_mlp": [100, 171, 111]}


def run(ctx, progress):
    return paper_protocol(ctx.config, ctx.data, ctx.paper_teacher, ctx.paper_teacher_logits, progress, ctx.log)


def paper_protocol(config, data, teacher, soft, progress=resume.UNRECORDED, log=print):
    """From a regularized teacher (and its logits `soft`): 800-800 and 600-600 students, plain and distilled
    at the paper's T = 20 (lambda = 1) and at the run's T and lambda (the tuner's best: --hparams, or
    tuning/search/best.json)."""
    settings = {"paper": (20.0, 1.0), "tuned": (config.temperature, config.lambda_)}
    if settings["tuned"] == settings["paper"]:
        del settings["tuned"]
    result = {"teacher": test_errors(teacher, data),
              "settings": {name: {"temperature": t, "lambda_": lam} for name, (t, lam) in settings.items()}}
    progress.expect(2 * (1 + len(settings)) * config.seeds)
    for width in (800, 600):
        log(f"Paper protocol: students {width}-{width} on labels, seeds {seeds_of(config)}")
        plain = errors_per_seed(config, data, (width, width), seeds_of(config), progress=progress)
        result[str(width)] = {"plain": plain, **distilled_per_setting(config, data, (width, width), soft, settings,
                                                                      progress, log)}
    return result


def render(section, name=NAME):
    r, paper = section["result"], PAPER
    names = {"paper": "the paper's T", "tuned": "the tuner's best"}
    lines = ["## The paper's protocol: a regularized teacher", "",
             (f"Teacher 1200-1200 with 2-pixel jitter, dropout and max-norm: **{r['teacher']}** test errors "
              f"(paper {paper['teacher']}; best public MLP reproduction {paper['best_public_mlp'][0]}). "
              "Students without regularization, plain and distilled; a distilled student and its plain twin "
              "start from the same weights, so their difference is paired."), "",
             "| student | distillation | test errors | paired difference | per seed |", "|---|---|---:|---:|---|"]
    for width in ("800", "600"):
        plain = r[width]["plain"]
        lines.append(f"| {width}-{width} | none (plain) | {spread(plain)} | | {plain} |")
        for setting, s in r["settings"].items():
            kd = r[width][setting]
            lines.append(f"| {width}-{width} | {names[setting]}: T = {s['temperature']:g}, lambda = {s['lambda_']:g} | "
                         f"{spread(kd)} | {spread(np.subtract(kd, plain))} | {kd} |")
    lines += ["", (f"Paper (800-800): plain {paper['student']}, distilled {paper['student_kd']}; best public MLP "
              f"reproduction: plain {paper['best_public_mlp'][1]}, distilled {paper['best_public_mlp'][2]}.")]
    return lines + ["", provenance(section), ""]
