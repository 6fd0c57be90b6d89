"""`python train.py protocol`: the dropout paper's SGD as its appendix writes it, a run's length read off one curve,
the input and weight options, and the stage's arms screened on validation only and resumed."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from distiller import (
    bias_shift,
    curve,
    experiments,
    keys,
    make_run_teacher,
    models,
    protocol_nets,
    refit,
    report,
    training,
)
from distiller.config import PROTOCOL_ARMS, Config
from distiller.optimizers import DropoutPaperSGD, for_config
from distiller.stages import protocol
from tests.conftest import blocks, plant_paper_teacher


def test_dropout_paper_sgd_is_the_appendix_update():
    """dw = p dw - (1 - p) eps g, w += dw; eps = eps0 f^epoch; p from p_i to p_f over T epochs: by hand."""
    optimizer = DropoutPaperSGD(2.0, 0.5, (0.5, 0.9, 2), steps_per_epoch=2)
    w = keras.Variable(np.array([1.0, -1.0], "float32"))
    expected, dw = np.array([1.0, -1.0]), np.zeros(2)
    for step in range(8):
        g = np.array([0.3, -0.1]) * (step + 1)
        optimizer.apply([keras.ops.convert_to_tensor(g.astype("float32"))], [w])
        epoch = step // 2
        p, eps = 0.5 + 0.4 * min(epoch / 2, 1.0), 2.0 * 0.5**epoch
        dw = p * dw - (1 - p) * eps * g
        expected = expected + dw
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-5)


def test_an_sgd_run_of_n_epochs_is_the_start_of_a_longer_one():
    """Neither the rate nor the momentum depends on the run's length: the weights after 2 epochs of a 4-epoch run
    are those of a 2-epoch run, so a curve's point at n epochs is what a run of n epochs ends with (Adam's cosine
    is not so)."""
    data = blocks((200, 100))
    config = Config(optimizer="dropout_sgd", learning_rate=0.1, batch_size=50, jit_compile=False,
                    steps_per_execution=1)

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept[epoch + 1] = [w.copy() for w in self.model.get_weights()]

    ends = {}
    for epochs in (2, 4):
        kept = {}
        keras.utils.set_random_seed(0)
        net = models.mlp((8,), "net")
        training.train_on_labels(net, data.train, data.val, dataclasses.replace(config, epochs=epochs), verbose=0,
                                 callbacks=[Keep()])
        ends[epochs] = kept
    for short, long in zip(ends[2][2], ends[4][2], strict=True):
        np.testing.assert_allclose(short, long, rtol=1e-6, atol=1e-7)
    assert not np.allclose(ends[4][2][0], ends[4][4][0])  # it went on learning
    with pytest.raises(ValueError, match="optimizer must be"):
        for_config(dataclasses.replace(config, optimizer="sgd"), 100)


def test_the_curve_keeps_its_points_across_a_resume_and_the_length_is_its_lowest_finite_nll(tmp_path):
    data = blocks((100, 60))
    net = models.mlp((8,), "net")
    path = tmp_path / "curve.json"
    first = curve.ValidationCurve(net, data.val, every=2, path=path)
    first.set_model(net)
    first.set_params({"epochs": 5})
    for epoch in range(3):  # killed after epoch 3: points at 2
        first.on_epoch_end(epoch)
    resumed = curve.ValidationCurve(net, data.val, every=2, path=path)
    resumed.set_model(net)
    resumed.set_params({"epochs": 5})
    for epoch in range(3, 5):
        resumed.on_epoch_end(epoch)
    assert [p[0] for p in resumed.as_list()] == [2, 4, 5]  # every 2 epochs and the last
    errors = np.sum(np.argmax(net.predict(data.val[0], verbose=0), -1) != data.val[1])
    assert resumed.as_list()[-1][1] == errors
    assert curve.best_length([[10, 5, 0.3], [20, 4, 0.2], [30, 9, float("nan")], [40, 4, 0.2]]) == 20


def test_unit_inputs_are_the_pixels_in_0_1_and_normal_weights_are_small_and_seeded():
    x = np.array([[-1.0] * 783 + [1.0]], "float32")
    unit = keras.Sequential([keras.Input((784,)), *models.unit_inputs("unit")])
    np.testing.assert_allclose(unit(x).numpy()[0, [0, -1]], [0.0, 1.0])
    kernels = []
    for seed in (0, 0, 1):
        keras.utils.set_random_seed(seed)
        kernels.append(models.mlp((800,), "net", init="normal").get_weights()[0])
    assert abs(kernels[0].std() - 0.01) < 0.001
    np.testing.assert_array_equal(kernels[0], kernels[1])
    assert not np.array_equal(kernels[0], kernels[2])
    with pytest.raises(ValueError, match="inputs must be"):
        models.unit_inputs("raw")


def test_the_arms_are_screened_on_validation_only_the_choice_is_refit_and_a_rerun_trains_nothing(tmp_path,
                                                                                                   monkeypatch):
    monkeypatch.setattr(protocol_nets, "UNITS", (8, 8))
    monkeypatch.setattr(protocol_nets, "TEACHER_UNITS", (16,))
    config = Config(out_dir=str(tmp_path), batch_size=50, jit_compile=False, steps_per_execution=1, epochs=1,
                    paper_teacher_epochs=2, protocol_today=(3.0, 0.5, 2), protocol_epochs=3, protocol_teacher_epochs=2,
                    protocol_rates=(0.3, 0.03), protocol_teacher_rates=(1.0, 0.1), protocol_probe_epochs=1,
                    protocol_curve_every=2, protocol_refit_seeds=2, kd_epochs=1, protocol_make_run_seeds=2)
    monkeypatch.setattr(models, "STUDENT_UNITS", (8, 8))  # make run's Student2.0, from each teacher (item 7)
    data = blocks((200, 100))
    plant_paper_teacher(config, data, tmp_path)
    monkeypatch.setattr(experiments, "prepare_data", lambda *_: data)
    fits, fit_student = {}, protocol_nets.Nets.fit_student  # what each student learned from and for how long

    def spied(self, trained, init, inputs, train, val, targets, seed, backup, label, *rest, **options):
        fits[label, seed] = {"images": len(train[0]), "labels": set(train[1].tolist()), "val": val, "epochs":
                             trained.epochs}
        return fit_student(self, trained, init, inputs, train, val, targets, seed, backup, label, *rest, **options)

    monkeypatch.setattr(protocol_nets.Nets, "fit_student", spied)
    written_before_the_refit = []  # the screen's section is written before the refit's first unit trains
    get_or_train_refit = refit.get_or_train_refit
    monkeypatch.setattr(refit, "get_or_train_refit", lambda *a: written_before_the_refit.append(
        json.loads((tmp_path / "results.json").read_text())["protocol"]) or get_or_train_refit(*a))
    lines = []
    experiments.run(config, ["protocol"], log=lines.append)
    result = json.loads((tmp_path / "results.json").read_text())["protocol"]["result"]

    assert list(result["arms"]) == list(PROTOCOL_ARMS)
    assert not any("test errors" in line for line in lines)  # no test number in the log
    screen = {k: v for k, v in result.items() if k not in ("refit", "paper")}  # the paper's numbers: its own
    assert "errors" not in json.dumps(screen).replace("val_errors", "")  # the screen reads validation only
    assert result["rate"] == float(min(result["probe"], key=lambda rate: result["probe"][rate]["val_nll"]))
    assert result["chosen"] == min(result["arms"], key=lambda a: result["arms"][a]["val_nll"])
    arms = result["arms"]
    assert arms["today"]["length"] == 2 and arms["weighting"]["changes"] == {"temperature": 20.0, "lambda_": 10.0}
    assert arms["optimizer"]["changes"]["learning_rate"] == result["rate"]
    assert [p[0] for p in arms["optimizer"]["curve"]] == [2, 3] and arms["optimizer"]["length"] in (2, 3)
    assert (tmp_path / "protocol" / f"{protocol_nets.TEACHER_FILE}.keras").is_file()  # the dropout paper's teacher
    probe = result["teacher"]["probe"]  # its rate: the lowest validation NLL of the probes
    assert list(probe) == ["1", "0.1"]
    chosen = json.loads((tmp_path / "protocol" / f"{protocol_nets.TEACHER_FILE}.json").read_text())["config"]
    assert chosen["learning_rate"] == float(min(probe, key=lambda rate: probe[rate]["val_nll"]))

    assert [section["result"] for section in written_before_the_refit] == [{**result, "refit": None}]
    assert "The refit on all 60,000 images: not run yet" in "\n".join(protocol.render(written_before_the_refit[0]))

    # Item 7: make run's Student2.0 from either teacher, per seed, on validation; the new one wins only if lower.
    check = result["make_run_teacher"]
    assert [len(check[t]["val_errors"]) for t in make_run_teacher.TEACHERS] == [2, 2]
    assert all(0 <= e <= len(data.val[1]) for t in make_run_teacher.TEACHERS for e in check[t]["val_errors"])
    assert (check["verdict"] == "replace") == (check["dropout_paper"]["mean"] < check["committed"]["mean"])
    assert any("make run's Student2.0, validation errors per seed" in line for line in lines)

    # The refit: the chosen arm's recipe on all 300 images (training and validation), one teacher per seed, on test.
    seeds = result["refit"]["seeds"]
    assert [s["seed"] for s in seeds] == [0, 1]
    teacher_name = PROTOCOL_ARMS[result["chosen"]][0].get("teacher", "committed")
    sgd = PROTOCOL_ARMS[result["chosen"]][0].get("optimizer") == "dropout_sgd"
    for s in seeds:
        teacher = json.loads((tmp_path / "protocol" / f"refit_teacher_{teacher_name}_seed{s['seed']}.json").read_text())
        assert teacher["key"]["data"] == keys.array_digest(*refit.all_images(data))
        assert teacher["config"]["optimizer"] == ("dropout_sgd" if teacher_name == "dropout_paper" else "adam")
        plain, distilled = fits["refit plain", s["seed"]], fits["refit distilled", s["seed"]]
        assert plain["images"] == distilled["images"] == 300 and plain["val"] is distilled["val"] is None
        assert (plain["epochs"], distilled["epochs"]) == ((result["length"] if sgd else 1), result["length"])
        minus3 = fits["refit Student2.0(-3)", s["seed"]]  # the training split without its 3s; validated on the rest
        assert minus3["images"] == np.sum(data.train[1] != 3) and 3 not in minus3["labels"]
        assert minus3["val"] is data.val
        c3 = s["class3"]  # b from the validation curve only, under both rules
        assert [c3["rules"][r]["bias"] for r in ("assignment", "fewest")] == [
            bias_shift.choose_bias(c3["curve"], 0), bias_shift.choose_bias(c3["curve"])]
    first, second = (models.load(tmp_path / "protocol" / f"refit_teacher_{teacher_name}_seed{seed}.keras")
                     for seed in (0, 1))
    assert not np.array_equal(first.get_weights()[0], second.get_weights()[0])  # a teacher per seed
    assert any("refit on all 300 images, 2 seeds" in line for line in lines)

    again, updates, update = [], [], report.update
    monkeypatch.setattr(report, "update", lambda *a, **k: updates.append(a[3]["refit"]) or update(*a, **k))
    experiments.run(config, ["protocol"], log=again.append)  # everything reused
    assert not any("units done (" in line for line in again), again
    assert json.loads((tmp_path / "results.json").read_text())["protocol"]["result"] == result
    assert None not in updates  # the screen is not written again over the section that holds its refit


def test_a_killed_sgd_run_resumes_to_the_uninterrupted_weights(tmp_path, capsys):
    """The backup keeps the velocities and the step count, on which the rate and the momentum depend."""
    data = blocks((200, 100))
    config = Config(optimizer="dropout_sgd", learning_rate=0.1, momentum=(0.5, 0.9, 2), batch_size=50, epochs=4,
                    jit_compile=False, steps_per_execution=1)

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt  # after the backup of epoch 2 was written

    def trained(callbacks, backup):
        keras.utils.set_random_seed(0)
        net = models.mlp((8,), "net")
        training.train_on_labels(net, data.train, data.val, config, verbose=0, callbacks=callbacks,
                                 backup_dir=backup, name="net")
        return net.get_weights()

    whole = trained([], None)
    with pytest.raises(KeyboardInterrupt):
        trained([Kill()], tmp_path / "backup")
    capsys.readouterr()
    resumed = trained([], tmp_path / "backup")
    assert "resuming at epoch 3 of 4" in capsys.readouterr().out  # not trained again from its start
    for a, b in zip(whole, resumed, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_the_refit_rows_lengths_follow_the_rule_written_before_the_choice():
    """config.protocol_refit_seeds: the plain row is as long as the paper stage's (config.epochs) under Adam, as the
    chosen arm under the dropout paper's SGD; the distilled row as the chosen arm."""
    from types import SimpleNamespace

    nets = protocol_nets.Nets(SimpleNamespace(config=Config(epochs=20)), progress=None)
    nets.rate = 0.1
    plain, distilled, init, inputs = refit.row_configs(nets, PROTOCOL_ARMS["today"][0], 60)
    assert (plain.epochs, distilled.epochs, plain.optimizer, init, inputs) == (20, 60, "adam", "glorot", "normalized")
    plain, distilled, init, inputs = refit.row_configs(nets, PROTOCOL_ARMS["all"][0], 400)
    assert (plain.epochs, distilled.epochs, plain.learning_rate, plain.batch_size) == (400, 400, 0.1, 100)
    assert (distilled.temperature, distilled.lambda_, init, inputs) == (20.0, 10.0, "normal", "unit")


@pytest.mark.parametrize("dropout_paper, verdict", [([40, 42, 41], "replace"), ([41, 43, 41], "keep"),
                                                     ([45, 40, 40], "keep")])
def test_make_run_switches_teacher_only_if_the_new_one_is_better_on_validation(monkeypatch, dropout_paper, verdict):
    """Item 7's rule (config.protocol_make_run_seeds): seeds 0, 1, 2, the mean of the last epoch's validation errors;
    the dropout paper's teacher replaces the committed one only when its mean is lower (a tie, 41.67, keeps it)."""
    from types import SimpleNamespace

    errors = {"committed": [41, 43, 41], "dropout_paper": dropout_paper}
    monkeypatch.setattr(make_run_teacher, "trained_once", lambda nets, row, seed: errors[row.teacher][seed])
    nets = SimpleNamespace(ctx=SimpleNamespace(config=Config()))
    result = make_run_teacher.compare(nets, targets_of=lambda name: None)
    assert result["verdict"] == verdict and result["committed"]["val_errors"] == [41, 43, 41]
    assert ("switch teachers" in make_run_teacher.verdict_line(result)) == (verdict == "replace")
