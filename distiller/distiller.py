"""A keras.Model that trains a student from a frozen teacher with Hinton et al.'s objective.

    distiller = Distiller(student=student, teacher=teacher)      # by keyword only: Keras's takes the teacher first
    distiller.compile(keras.optimizers.Adam(), metrics=["accuracy"], temperature=20.0, lambda_=1.0)
    distiller.fit(x, y)                                          # runs the teacher at every step
    distiller.fit({"pixels": x, "teacher_logits": v}, y)         # or reuses precomputed logits
    distiller.fit({"pixels": x, "view_logits": w}, y)            # or a random shifted view and its logits

`loss = student_loss + lambda_ * distillation_loss`, where student_loss is the hard-label CE and
distillation_loss is T^2 * CE(softmax(v/T), softmax(z/T)). Gradients come from autodiff.
With view_logits (N, 25, classes: cache.view_logits), each training example is shown one of its 25
shifted views (augment.VIEWS), drawn at random every step, and taught by the teacher's logits for that
very view: consistent teaching (Beyer et al. 2022) without running the teacher.

Like Model.fit, it adds the student's regularization losses, scales the loss under a mixed-precision
policy, and weighs each example by `sample_weight` (or `class_weight`). Only a dict with one of the
reserved keys (CACHED_KEYS) selects precomputed logits; any other input goes to the student and teacher.

temperature, lambda_ and hard_labels belong to the Distiller (20, 1 and True by default): set when it is made or
by compile (where None keeps them), and kept by get_config, so that from_config and load_model restore them.
"""

import reprlib

import keras
import numpy as np
import tensorflow as tf

from distiller import augment
from distiller.losses import are_probabilities, check_hyperparameters, per_example_losses

CACHED_KEYS = ("teacher_logits", "view_logits")  # the keys of precomputed logits; their images are under "pixels"


@keras.saving.register_keras_serializable(package="distiller")
class Distiller(keras.Model):
    def __init__(self, *args, student=None, teacher=None, seed=0, temperature=20.0, lambda_=1.0, hard_labels=True,
                 **kwargs):
        # By keyword only: keras.distillation.Distiller takes (teacher, student), so a user of Keras's order would
        # silently train the teacher. *args is taken only to refuse it in words.
        if args or student is None:
            raise TypeError(keyword_only_refusal(args))
        check_hyperparameters(temperature, lambda_)
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        # The random views of view_logits; a fixed default seed, so that creating it never draws from
        # (and so changes) Python's global random state.
        self.seed = seed
        self.view_seed_generator = keras.random.SeedGenerator(seed)
        # Built when the student is (its weights are the only ones trained): a subclassed model is otherwise built
        # only at its first step, but a resumed fit loads its backup's weights before any step (on_train_begin), and
        # Keras refuses to load weights into a model not yet built.
        self.built = student.built
        if teacher is not None:
            refuse_probabilities(teacher)  # once, here: no step pays for it
            teacher.trainable = False  # its weights never reach the optimizer
        self.temperature, self.lambda_, self.hard_labels = float(temperature), float(lambda_), bool(hard_labels)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    def compile(self, optimizer="adam", metrics=None, temperature=None, lambda_=None, loss=None, hard_labels=None,
                **kwargs):
        """temperature, lambda_, hard_labels: None keeps the Distiller's (20, 1 and True unless it was made or
        restored with others). hard_labels=False drops the hard-label term: the student learns from the soft
        targets alone."""
        if loss is not None:
            raise ValueError(f"a Distiller computes its own loss; got loss={loss!r}")
        temperature = self.temperature if temperature is None else temperature
        lambda_ = self.lambda_ if lambda_ is None else lambda_
        hard_labels = self.hard_labels if hard_labels is None else hard_labels
        check_hyperparameters(temperature, lambda_)
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        self.temperature, self.lambda_, self.hard_labels = float(temperature), float(lambda_), bool(hard_labels)

    @property
    def metrics(self):
        """What fit and evaluate reset and log, listed as a custom train_step lists its own (Keras's documented
        way): this class's "loss" first, then the rest. compile() makes a "loss" Mean of its own, updated only by
        Model's train_step; left out, it neither hides this one nor logs a second "loss"."""
        return [self.loss_tracker, *(m for m in super().metrics if m.name != "loss")]

    def call(self, inputs, training=False):
        return self.student(inputs["pixels"] if is_cached(inputs) else inputs, training=training)

    def targets_for(self, inputs, training=False):
        """(The student's inputs, the teacher's logits for them). Precomputed logits when given (exact: the data
        has no augmentation); in training with view_logits, a random view of each image and its logits (in
        evaluation, the unshifted view); else the teacher's."""
        if is_cached(inputs) and "view_logits" in inputs:
            pixels, views = inputs["pixels"], inputs["view_logits"]
            if not training:
                return pixels, views[:, augment.CENTER]
            v = augment.random_views(tf.shape(pixels)[0], self.view_seed_generator)
            return augment.view(pixels, v), tf.gather(views, v, axis=1, batch_dims=1)
        if is_cached(inputs):
            return inputs["pixels"], inputs["teacher_logits"]
        if self.teacher is None:
            raise ValueError("this Distiller has no teacher: pass {'pixels': x, 'teacher_logits': v} as x")
        return inputs, self.teacher(inputs, training=False)

    def compute_losses(self, labels, student_logits, teacher_logits, sample_weight=None):
        """Per-example (total, student_loss, distillation_loss), each weighed by sample_weight; the total also
        carries the student's regularization losses of its last call, as Model.fit adds them."""
        # In floatx whatever the policy, as Keras losses are: float16 would flush small soft targets to 0.
        student_logits, teacher_logits = (tf.cast(z, keras.backend.floatx()) for z in (student_logits, teacher_logits))
        total, hard, soft = per_example_losses(labels, student_logits, teacher_logits, self.temperature, self.lambda_)
        losses = (total if self.hard_labels else self.lambda_ * soft), hard, soft
        if sample_weight is not None:
            weight = tf.reshape(tf.cast(sample_weight, hard.dtype), [-1])
            losses = tuple(weight * loss for loss in losses)
        # Added to each example's total, so that averaging over the global batch counts them once on any number
        # of replicas (and the logged loss includes them, as Model.fit's does).
        if regularization := self.losses:
            losses = (losses[0] + tf.add_n([tf.cast(r, hard.dtype) for r in regularization]),) + losses[1:]
        return losses

    def train_step(self, data):
        inputs, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        pixels, teacher_logits = self.targets_for(inputs, training=True)
        with tf.GradientTape() as tape:
            student_logits = self(pixels, training=True)
            losses = self.compute_losses(labels, student_logits, tf.stop_gradient(teacher_logits), sample_weight)
            # Averaged over the global batch: under tf.distribute the replicas' gradients are summed.
            loss = tf.nn.compute_average_loss(losses[0])
            # Under mixed_float16, compile() wrapped the optimizer in a LossScaleOptimizer: it scales the loss
            # here and divides the gradients back in apply(). Otherwise the loss is returned as it is.
            loss = self.optimizer.scale_loss(loss)
        variables = self.student.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return self.update_metrics(labels, student_logits, losses, sample_weight)

    def test_step(self, data):
        inputs, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        pixels, teacher_logits = self.targets_for(inputs)
        student_logits = self(pixels, training=False)
        losses = self.compute_losses(labels, student_logits, teacher_logits, sample_weight)
        return self.update_metrics(labels, student_logits, losses, sample_weight)

    def update_metrics(self, labels, student_logits, losses, sample_weight=None):
        trackers = (self.loss_tracker, self.student_loss_tracker, self.distillation_loss_tracker)
        for tracker, per_example in zip(trackers, losses):
            # A Mean of per-example values, exact over uneven batches; weighed ones log sum(w * loss) / N, the
            # quantity trained on, as Model.fit logs its loss. The compiled metrics weigh as Model.fit's do.
            tracker.update_state(per_example)
        return self.compute_metrics(None, labels, student_logits, sample_weight=sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher) if self.teacher is not None else None,
            "seed": self.seed,
            "temperature": self.temperature,
            "lambda_": self.lambda_,
            "hard_labels": self.hard_labels,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        student = keras.saving.deserialize_keras_object(config.pop("student"))
        teacher = config.pop("teacher")
        teacher = keras.saving.deserialize_keras_object(teacher) if teacher is not None else None
        return cls(student=student, teacher=teacher, **config)

    def get_compile_config(self):
        config = super().get_compile_config()
        return {**config, "temperature": self.temperature, "lambda_": self.lambda_,
                "hard_labels": self.hard_labels} if config else {}

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)


def keyword_only_refusal(args):
    """The one-line TypeError message for a Distiller made with positional arguments, or without a student."""
    received = ", ".join(f"{type(a).__name__} {a.name!r}" if isinstance(a, keras.Model) else reprlib.repr(a)
                         for a in args)
    return ("Distiller takes its models by keyword: Distiller(student=..., teacher=...) (keras.distillation.Distiller "
            "takes the teacher first, so a position could train the wrong model); "
            + (f"got {len(args)} positional argument(s): {received}" if args else "got no student="))


def is_cached(inputs):
    """Whether the inputs carry precomputed logits: a dict with a reserved key (a student's own named inputs
    need not be pixels and logits)."""
    return isinstance(inputs, dict) and any(key in inputs for key in CACHED_KEYS)


LOGITS_ONLY = "the teacher must output logits, not probabilities (the objective applies its own softmax at T)"


def refuse_probabilities(teacher):
    """A teacher that ends in a softmax, refused in one line: its probabilities, taken for logits, would teach
    nearly flat targets. Checked once, when the Distiller is made, so that no training step pays for it, by the
    teacher's outputs for a few random inputs: this finds a softmax however it is applied (an activation, a
    layer, an op). A subclassed teacher, whose inputs are unknown until it runs on data, is not checked."""
    if (probe := random_inputs(teacher)) is None:
        return
    outputs = keras.ops.convert_to_numpy(teacher(probe, training=False))
    if are_probabilities(outputs):
        raise ValueError(f"{LOGITS_ONLY}; got {teacher.name!r}, whose outputs for random inputs are rows summing "
                         f"to 1, e.g. {np.round(outputs[0].astype(float), 3).tolist()}")


def random_inputs(model, n=8):
    """n standard normal inputs shaped like the model's (a Functional's or built Sequential's), or None when they
    are unknown or not float arrays of known shape."""
    try:
        specs = model.inputs
    except AttributeError:
        return None  # a subclassed model, or a Sequential never built
    structure = specs[0] if len(specs) == 1 else model.input  # several: as a Functional takes them (a dict, ...)
    if not all("float" in spec.dtype and None not in spec.shape[1:] for spec in specs):
        return None
    rng = np.random.default_rng(0)  # not keras.random: making a Distiller leaves every global random state alone
    return keras.tree.map_structure(lambda spec: rng.normal(size=(n, *spec.shape[1:])).astype(spec.dtype), structure)
