"""The assignment's students (student_rows.py: the Student, Student2.0 from the Teacher, the jittered control,
Student2.0 from the paper teacher), once per seed and all from the same initial weights (paired differences). The
first seed's models are saved; class 3 and export load student_kd."""

import numpy as np

from distiller import artifacts, kept_seeds, keys, report, resume
from distiller.evaluate import count_errors, mean_std, predictions
from distiller.paper_teacher import paper_teacher_key
from distiller.per_seed import run_unit, seeds_of
from distiller.student_rows import TITLES, all_rows, row_key, train_row

NAME = "students"
NEEDS_PAPER_TEACHER = True  # Student2.0's teacher


def run(ctx, progress):
    """The section: this run's seeds, and an earlier section's other seeds when made with this run's keys
    (kept_seeds: `make run` after `python train.py --seeds 3` keeps seeds 1 and 2)."""
    rows = all_rows(ctx)
    digests_of = lambda seed: {name: keys.digest(row_key(r, ctx.data, seed)) for name, r in rows.items()}
    earlier = report.read_results(ctx.out, ctx.log).get(NAME)
    records, kept = kept_seeds.keep(earlier, train_students(ctx, progress, rows), digests_of, ctx.log, NAME)
    teacher = paper_teacher_record(ctx)
    return {"paper_teacher": teacher, **records, "statistics": seed_statistics(records, teacher["errors"]),
            **({"kept": kept} if kept else {})}


def paper_teacher_record(ctx):
    """The paper teacher's test record (its saved training time), with its validation errors and key."""
    config, data, teacher = ctx.config, ctx.data, ctx.get_or_train_paper_teacher()
    artifact_key = paper_teacher_key(config, data)
    seconds = artifacts.saved_record(ctx.out / "paper_teacher.json").get("seconds")
    return {**artifacts.model_record(teacher, data.test, seconds, config.seed, artifact_key),
            "val_errors": count_errors(predictions(ctx.paper_logits(teacher)[1]), data.val[1])}


def train_students(ctx, progress=resume.UNRECORDED, rows=None):
    """{row name: [record per seed]} of `rows` (student_rows.all_rows). Seed by seed, so that a run stopped early
    leaves complete, paired seeds."""
    config, rows = ctx.config, all_rows(ctx) if rows is None else rows
    records = {name: [] for name in rows}
    progress.expect(len(rows) * config.seeds)
    for seed in seeds_of(config):
        for name, r in rows.items():
            train = lambda backup, name=name, r=r, seed=seed: train_row(ctx, name, r, seed, backup)
            records[name].append(run_unit(progress, name, seed, row_key(r, ctx.data, seed), train, TITLES[name]))
    return records


def seed_statistics(records, paper_teacher_errors):
    """Mean and std of each row's test errors, their paired differences with the Student (and Student2.0's with
    its control), and the share of the Student-to-paper-teacher gap that Student2.0 closes."""
    errors = {name: np.array([r["errors"] for r in runs], dtype=float) for name, runs in records.items()}
    student = errors["student"]
    stats = {"n": len(student), **{name: mean_std(e) for name, e in errors.items()},
             "difference": {name: mean_std(e - student) for name, e in errors.items() if name != "student"},
             "gap_closed": float((student.mean() - errors["student_kd"].mean()) / (student.mean() - paper_teacher_errors))}
    if "student_jitter" in errors:
        stats["vs_control"] = mean_std(errors["student_kd"] - errors["student_jitter"])
    return stats


# The models table's names (the first seed's models, saved).
MODELS = {"student": "Student 600-600", "student_kd_teacher": "Student2.0 600-600 from the Teacher",
          "student_jitter": "Student 600-600 jittered (control)", "student_kd": "Student2.0 600-600 from the paper teacher"}


def table_rows(section):
    r = section["result"]
    return [("Paper teacher 1200-1200 (jitter, dropout, max-norm)", r["paper_teacher"])] + [
        (f"{MODELS[name]} (seed {runs[0]['seed']})", runs[0]) for name, runs in r.items() if name in MODELS]


def render(section, name=NAME):
    r, s, c = section["result"], section["result"]["statistics"], section["config"]
    lines = [f"## Student vs Student2.0 over {s['n']} seed(s)", "",
             (f"Student2.0 is taught by the paper teacher ({r['paper_teacher']['errors']} test errors) at T = "
             f"{c['temperature']:g}, lambda = {c['lambda_']:g}, {c['kd_epochs']} epochs, {c['views']} views; "
             f"Student2.0 from the Teacher at T = {c['teacher_temperature']:g}, lambda = {c['teacher_lambda']:g}. "
             "Every row of a seed starts from the same weights."), "",
             "| model | taught by | epochs | test errors, mean +- std | per seed | paired difference vs Student |",
             "|---|---|---:|---:|---|---:|"]
    for model in (m for m in TITLES if m in r):
        runs, d = r[model], s["difference"].get(model)
        lines.append(f"| {TITLES[model]} | {runs[0]['teacher'] or 'labels'} | {runs[0]['epochs']} | "
                     f"{s[model]['mean']:.1f} +- {s[model]['std']:.1f} | {', '.join(str(x['errors']) for x in runs)} | "
                     + ("" if d is None else f"{d['mean']:+.1f} +- {d['std']:.1f}") + " |")
    lines += ["", f"Student2.0 closes {100 * s['gap_closed']:.0f}% of the gap between the Student and its teacher"
              + (f"; against its jittered control: {s['vs_control']['mean']:+.1f} +- {s['vs_control']['std']:.1f}."
                 if "vs_control" in s else "."), "", *kept_lines(r.get("kept", [])),
              report.provenance(section, seeds=s["n"]), ""]
    return lines


def kept_lines(kept):
    """Where the seeds an earlier run made come from (kept_seeds): the footer below names this run's."""
    if not kept:
        return []
    return ["Kept from earlier runs, made with this section's settings, split, data and code: "
            + "; ".join(f"{kept_seeds.listed(g['seeds'])} by {kept_seeds.described(g)}" for g in kept) + ".", ""]
