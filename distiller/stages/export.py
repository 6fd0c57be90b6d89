"""Ship the models: each saved .keras model as a TensorFlow SavedModel and as LiteRT float32 and int8
files in OUT/export/, each checked on the test set when written, with what it costs to serve. Trains
nothing. The class-3 bias shift is then made again on the exported SavedModel of Student2.0(-3).

The mechanics (export, conversion, timing) are in distiller/deploy.py."""

import numpy as np

from distiller import artifacts, atomic, bias_shift, deploy, models, paper_teacher
from distiller.errors import DistillerError
from distiller.evaluate import summary
from distiller.models import logits
from distiller.report import provenance

NAME = "export"
NEEDS_TEACHER = False  # reads the saved models only: the teacher stage is not run before it
FOLDER = "export"
# The saved models of `make run` (all needed), then those of opt-in stages (exported when saved).
MODELS = {"teacher": "Teacher", "student": "Student", "student_kd": "Student2.0",
          "student_kd_minus3_shifted": "Student2.0(-3) + b"}
OPTIONAL = {"paper_teacher": "Paper teacher"}
FORMATS = ("SavedModel", "LiteRT float32", "LiteRT int8")
SUFFIXES = {"SavedModel": "", "LiteRT float32": ".tflite", "LiteRT int8": "_int8.tflite"}
CHECKED = FORMATS[:2]  # the float32 exports compute the Keras model's function; int8 rounds its weights
# An export computes the Keras model's function in another order of float32 operations (other kernels and fusions,
# oneDNN or not, AVX-512 or not), so its logits differ by rounding, which grows with their scale: the tolerance is a
# part of the largest |logit| on the test set. Measured (a teacher and a student, this machine, oneDNN on and off):
# at most 2e-7 of it for the SavedModel, 1e-6 for LiteRT float32. 1e-4 leaves a hundredfold margin for other
# processors and is still far below what a wrong export moves (a changed weight or swapped outputs move logits by
# a sizeable part of their scale). An absolute 1e-5 refused a correct SavedModel off by 1.1e-5 on another processor.
RTOL = 1e-4
# Within that tolerance a predicted class can change only where the Keras model's top two logits nearly tie; the
# closest pair of a test set was 5e-4 apart, rounding moves logits by 2e-5: one image broken either way is possible,
# more means the export predicts differently.
MAX_CLASSES_CHANGED = 1
LATENCY_CALLS = 1000


def run(ctx, progress):
    folder = ctx.out / FOLDER
    sources = exported_models(ctx.out)
    progress.expect(len(sources))
    rows = {}
    for name, (title, path) in sources.items():
        key = f"{name}-{artifacts.file_digest(path)[:16] if path.exists() else 'missing'}"
        rows[name] = progress.run(key, lambda backup, name=name, title=title, path=path:
                                  {"title": title, **export_model(ctx, name, path, folder)}, title)
    return {"models": rows, "class3": shift_bias_of_exported(ctx, folder), "threads": deploy.THREADS,
            "latency_calls": LATENCY_CALLS}


def exported_models(out):
    """{name: (title, its .keras file)}: make run's models (all needed), then the paper teacher, from `out` or
    else the committed one, when saved."""
    sources = {name: (title, out / f"{name}.keras") for name, title in MODELS.items()}
    for name, title in OPTIONAL.items():
        path = next((p for p in (out / f"{name}.keras", paper_teacher.COMMITTED / f"{name}.keras") if p.exists()), None)
        if path is not None:
            sources[name] = (title, path)
    return sources


def export_model(ctx, name, path, folder):
    """The three files of one model, the float32 ones checked against the Keras model as written (a wrong one stops
    the stage before the next is made); their sizes, speeds and test errors."""
    model = models.load(path, name, remedy="run the stage that trains it again")
    x = ctx.data.test[0]
    expected = logits(model, x)
    ctx.log(f"Exporting {name}: SavedModel, LiteRT float32 and int8")
    files = {fmt: folder / f"{name}{SUFFIXES[fmt]}" for fmt in FORMATS}
    predictors, test_logits, checks = {}, {}, {}
    for fmt in FORMATS:
        if fmt == "SavedModel":
            deploy.export_saved_model(model, files[fmt])
            predictors[fmt] = deploy.SavedModelPredictor(files[fmt])
        else:  # converted from the SavedModel, written first
            atomic.write_bytes(files[fmt], deploy.litert_bytes(files["SavedModel"], int8=fmt.endswith("int8")))
            predictors[fmt] = deploy.LiteRTPredictor(files[fmt])
        test_logits[fmt] = deploy.predict_all(predictors[fmt], x)
        if fmt in CHECKED:
            checks[fmt] = checked_export(name, fmt, test_logits[fmt], expected)
    return {"parameters": model.count_params(),  # measured once all three are written and checked
            "formats": {fmt: {**measure(predictors[fmt], test_logits[fmt], files[fmt], ctx), **checks.get(fmt, {})}
                        for fmt in FORMATS}}


def checked_export(name, fmt, exported, expected):
    """How far an export's test-set logits are from the Keras model's; DistillerError when further than float
    rounding explains (RTOL of the largest |logit|), or when more than MAX_CLASSES_CHANGED predicted classes differ."""
    what = f"the {fmt} export of {name}"
    scale = float(np.max(np.abs(expected)))
    difference = float(np.max(np.abs(exported - expected)))
    changed = int(np.sum(np.argmax(exported, 1) != np.argmax(expected, 1)))
    if not difference <= RTOL * scale:  # NaN too
        raise DistillerError(f"{what} differs from the Keras model by {difference:.2g} on the test set (tolerance "
                             f"{RTOL * scale:.2g}: {RTOL:g} of its largest |logit|, {scale:.3g})")
    if changed > MAX_CLASSES_CHANGED:
        raise DistillerError(f"{what} predicts another class than the Keras model on {changed} test images (at most "
                             f"{MAX_CLASSES_CHANGED} may differ, a near-tie broken by float rounding)")
    return {"max_difference": difference, "tolerance": RTOL * scale, "classes_changed": changed}


def measure(predict, test_logits, path, ctx):
    x, y = ctx.data.test
    median, p95 = deploy.latency_ms(predict, x, LATENCY_CALLS)
    return {"file": str(path.relative_to(ctx.out)), "bytes": deploy.size_bytes(path),
            "latency_ms": {"median": round(median, 4), "p95": round(p95, 4)},
            "images_per_second": round(deploy.images_per_second(predict, x)),
            **summary(test_logits, y)}


def shift_bias_of_exported(ctx, folder):
    """The class-3 experiment's last step on SavedModels: b (as chosen by the class3 stage on validation) added
    to output 3 of the exported Student2.0(-3); its test errors must equal the Keras-shifted model's."""
    shifted = atomic.read_json(ctx.out / "student_kd_minus3_shifted.json", {}).get("record")
    if not shifted or "bias" not in shifted:
        raise DistillerError(f"no class-3 result in {ctx.out}/student_kd_minus3_shifted.json: "
                             "run `python train.py class3` first")
    minus3 = models.load(ctx.out / "student_kd_minus3.keras", "Student2.0(-3)")
    deploy.export_saved_model(minus3, folder / "student_kd_minus3")
    deploy.shift_bias_in_saved_model(folder / "student_kd_minus3", folder / "student_kd_minus3_patched",
                                     shifted["bias"], bias_shift.DIGIT)
    patched = deploy.predict_all(deploy.SavedModelPredictor(folder / "student_kd_minus3_patched"), ctx.data.test[0])
    patched = summary(patched, ctx.data.test[1])
    keras_shifted = {k: shifted[k] for k in ("errors", "errors_on_3")}
    return {"bias": shifted["bias"], "saved_model": {k: patched[k] for k in ("errors", "errors_on_3")},
            "keras": keras_shifted, "file": f"{FOLDER}/student_kd_minus3_patched",
            "equal": all(patched[k] == v for k, v in keras_shifted.items())}


def render(section, name=NAME):
    r = section["result"]
    lines = ["## Served: SavedModel and LiteRT (test set, this machine's CPU)", "",
             (f"Batch-1 latency: median and 95th percentile over {r['latency_calls']} calls; throughput: the fastest "
              f"of 10 calls on 1,024 images; LiteRT with {r['threads']} threads. int8: dynamic-range quantized "
              "weights, float activations."), "",
             ("| model | format | parameters | file | latency (ms), median / p95 | images/s at batch 1,024 "
              "| test errors |"),
             "|---|---|---:|---:|---:|---:|---:|"]
    titles = {**MODELS, **OPTIONAL}
    for model, row in r["models"].items():
        for fmt, m in row["formats"].items():
            title = row.get("title") or titles[model]  # results written before titles were stored
            lines.append(f"| {title} | {fmt} | {row['parameters']:,} | {m['bytes'] / 1e6:.2f} MB | "
                         f"{m['latency_ms']['median']:.3f} / {m['latency_ms']['p95']:.3f} | "
                         f"{m['images_per_second']:,} | {m['errors']} |")
    return lines + ["", *comparison(r), "", *class3_lines(r["class3"]), "", provenance(section), ""]


def comparison(result):
    """Student2.0 against the Teacher, served the same way: how much smaller and faster, at what cost."""
    teacher, student = result["models"]["teacher"]["formats"], result["models"]["student_kd"]["formats"]
    lines = []
    for fmt in FORMATS:
        t, s = teacher[fmt], student[fmt]
        lines.append(f"- {fmt}: Student2.0 is {t['bytes'] / s['bytes']:.1f}x smaller than the Teacher, "
                     f"{t['latency_ms']['median'] / s['latency_ms']['median']:.1f}x faster at batch 1 and "
                     f"{s['images_per_second'] / t['images_per_second']:.1f}x at batch 1,024, with "
                     f"{s['errors'] - t['errors']:+d} test errors ({s['errors']} against {t['errors']}).")
    return lines


def class3_lines(c):
    verdict = "equal to" if c["equal"] else "**different from**"
    return [(f"Class 3 on a SavedModel: b = +{c['bias']:g} added to the bias of output 3 of the exported "
             f"Student2.0(-3) (`{c['file']}`): {c['saved_model']['errors']} test errors, "
             f"{c['saved_model']['errors_on_3']} on 3s, {verdict} the Keras-shifted model's "
             f"({c['keras']['errors']}, {c['keras']['errors_on_3']}).")]
