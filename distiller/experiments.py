"""The loop behind train.py: the data, the output folder, and the stages of distiller/stages/ run in order.

Each stage gets a Context (settings, data splits, output folder, the teachers' cached logits) and a
record of its finished units (resume.Units), and returns its section of results.json.
"""

import dataclasses
from pathlib import Path

from distiller import atomic, cache, models, paper_teacher, report, resume, stages
from distiller.data import Splits, prepare_data
from distiller.errors import DistillerError, raise_if_interrupted


def output_dir(config):
    out = Path(config.out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / ".write-test").write_text("")
        (out / ".write-test").unlink()
    except OSError as e:
        raise DistillerError(f"cannot write to the output directory {out}: {e.strerror or e}") from None
    return out


@dataclasses.dataclass
class Context:
    """What every stage is given. The teachers' logits are computed once per (teacher, data), through the disk
    cache: reused by every stage, seed and tuner trial. Only get_or_train_paper_teacher may train (the paper
    teacher, once per run); nothing else here trains."""

    config: object
    data: Splits
    out: Path
    log: object = print
    made: dict = dataclasses.field(default_factory=dict)  # what this run computed once: the paper teacher, logits

    def once(self, name, compute):
        if name not in self.made:
            self.made[name] = compute()
        return self.made[name]

    def teacher_logits(self):
        """(logits on the training split, on the validation split) of the saved make-run teacher."""
        def compute():
            teacher = models.load(self.out / "teacher.keras", "teacher", remedy="pass --retrain to train a new one")
            return cache.teacher_logits_for(teacher, self.data, self.out / "teacher_logits")
        return self.once("teacher_logits", compute)

    def get_or_train_paper_teacher(self):
        """The paper teacher (paper_teacher.py): loaded, or trained (an hour and a half; --retrain-paper-teacher:
        anew) once per run, however many stages use it."""
        return self.once("paper_teacher", lambda: paper_teacher.get_or_train_paper_teacher(self.config, self.data,
                                                                                             self.out, self.log))

    def paper_logits(self, teacher):
        """cache.TeacherLogits of `teacher`, the paper teacher (get_or_train_paper_teacher)."""
        return self.once("paper_logits", lambda: cache.teacher_logits_for(teacher, self.data,
                                                                          self.out / "teacher_logits"))

    def paper_targets(self, teacher):
        """paper_teacher.targets of `teacher`, the paper teacher: its logits on the views, the images and the test
        images, computed (or read from the cache) once per run."""
        return self.once("paper_targets", lambda: paper_teacher.targets(teacher, self.data, self.out / "teacher_logits",
                                                                        self.log))

    def transfer_logits(self):
        """The teacher's logits of the stages with DISTIL_FROM: make run's, or with --distil-from paper the paper
        teacher's (got or trained here; the run announced it)."""
        if self.config.distil_from == "paper":
            return self.paper_logits(self.get_or_train_paper_teacher())
        return self.teacher_logits()

    def section_suffix(self):
        return report.FROM_PAPER_TEACHER if self.config.distil_from == "paper" else ""


def run(config, names=stages.NAMES, log=print):
    """Run the named stages in order (the teacher first, unless every named stage only reads saved models); return
    the report's Markdown. One run per output folder at a time. Killed, it resumes when run again: a model in
    training from its last epoch, a stage from its last finished unit."""
    out = output_dir(config)
    with resume.exclusive(out):
        if removed := atomic.remove_leftovers(out, other_run_marker=resume.LOCK):
            log(f"Removed {removed} temporary file(s) that an interrupted run left in {out}/")
        chosen = [stage for stage in stages.modules() if stage.NAME in names]
        ctx = Context(config, prepare_data(config, log), out, log)
        if any(uses_paper_teacher(stage, config) for stage in chosen):
            paper_teacher.announce(config, ctx.data, out, log)  # an hour and a half to train: said before any training
        needs = any(getattr(stage, "NEEDS_TEACHER", True) for stage in chosen)
        run_stages(ctx, ["teacher", *names] if needs else names)
        resume.tidy(out)
        return report.write(out, stages.modules(), log)


def uses_paper_teacher(stage, config):
    return getattr(stage, "NEEDS_PAPER_TEACHER", False) or (getattr(stage, "DISTIL_FROM", False)
                                                             and config.distil_from == "paper")


def run_stages(ctx, names):
    """Each named stage in the order of stages.NAMES; its section of results.json is rewritten as it finishes,
    then the record of its finished units is dropped."""
    for stage in stages.modules():
        if stage.NAME in names:
            raise_if_interrupted()
            section = stage.NAME + (ctx.section_suffix() if getattr(stage, "DISTIL_FROM", False) else "")
            progress = resume.Units(ctx.out, section, ctx.log, keep=getattr(stage, "KEEP_UNITS", False),
                                    shows=getattr(stage, "SHOWS", "errors"))
            result = stage.run(ctx, progress)
            report.update(ctx.out, section, ctx.config, result, ctx.log, seeds=getattr(stage, "SEEDS", None))
            progress.finish()
