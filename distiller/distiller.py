"""A keras.Model that trains a student from a frozen teacher with Hinton et al.'s objective.

    distiller = Distiller(student, teacher)
    distiller.compile(keras.optimizers.Adam(), metrics=["accuracy"], temperature=20.0, lambda_=1.0)
    distiller.fit(x, y)                                          # runs the teacher at every step
    distiller.fit({"pixels": x, "teacher_logits": v}, y)         # or reuses precomputed logits
    distiller.fit({"pixels": x, "view_logits": w}, y)            # or a random shifted view and its logits

`loss = student_loss + lambda_ * distillation_loss`, where student_loss is the hard-label CE and
distillation_loss is T^2 * CE(softmax(v/T), softmax(z/T)). Gradients come from autodiff.
With view_logits (N, 25, classes: cache.view_logits), each training example is shown one of its 25
shifted views (augment.VIEWS), drawn at random every step, and taught by the teacher's logits for that
very view: consistent teaching (Beyer et al. 2022) without running the teacher.
"""

import keras
import tensorflow as tf

from distiller import augment
from distiller.losses import check_hyperparameters, per_example_losses


@keras.saving.register_keras_serializable(package="distiller")
class Distiller(keras.Model):
    def __init__(self, student, teacher=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        # The random views of view_logits; a fixed default seed, so that creating it never draws from
        # (and so changes) Python's global random state.
        self.seed = seed
        self.view_seed_generator = keras.random.SeedGenerator(seed)
        # Built when the student is: its weights are the only ones trained (BackupAndRestore needs this).
        self.built = student.built
        if teacher is not None:
            teacher.trainable = False  # its weights never reach the optimizer
        self.temperature, self.lambda_, self.hard_labels = 1.0, 0.0, True
        # "loss" here shadows the tracker that compile() creates, which this class never updates.
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    def compile(self, optimizer="adam", metrics=None, temperature=20.0, lambda_=1.0, loss=None, hard_labels=True,
                **kwargs):
        """hard_labels=False drops the hard-label term: the student learns from the soft targets alone."""
        if loss is not None:
            raise ValueError(f"a Distiller computes its own loss; got loss={loss!r}")
        check_hyperparameters(temperature, lambda_)
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        self.temperature, self.lambda_, self.hard_labels = float(temperature), float(lambda_), bool(hard_labels)

    def call(self, inputs, training=False):
        pixels = inputs["pixels"] if isinstance(inputs, dict) else inputs
        return self.student(pixels, training=training)

    def teacher_logits(self, inputs, training=False):
        """Precomputed logits when given (exact: the data has no augmentation); in training with view_logits,
        a random view of each image and its logits (in evaluation, the unshifted view); else the teacher's."""
        if isinstance(inputs, dict) and "view_logits" in inputs:
            pixels, views = inputs["pixels"], inputs["view_logits"]
            if not training:
                return pixels, views[:, augment.CENTER]
            v = augment.random_views(tf.shape(pixels)[0], self.view_seed_generator)
            return augment.view(pixels, v), tf.gather(views, v, axis=1, batch_dims=1)
        if isinstance(inputs, dict):
            return inputs["pixels"], inputs["teacher_logits"]
        if self.teacher is None:
            raise ValueError("this Distiller has no teacher: pass {'pixels': x, 'teacher_logits': v} as x")
        return inputs, self.teacher(inputs, training=False)

    def compute_losses(self, labels, student_logits, teacher_logits):
        """Per-example (total, student_loss, distillation_loss)."""
        total, hard, soft = per_example_losses(labels, student_logits, teacher_logits, self.temperature, self.lambda_)
        return (total if self.hard_labels else self.lambda_ * soft), hard, soft

    def train_step(self, data):
        inputs, labels = unpack(data)
        pixels, teacher_logits = self.teacher_logits(inputs, training=True)
        with tf.GradientTape() as tape:
            student_logits = self(pixels, training=True)
            losses = self.compute_losses(labels, student_logits, tf.stop_gradient(teacher_logits))
            # Averaged over the global batch: under tf.distribute the replicas' gradients are summed.
            loss = tf.nn.compute_average_loss(losses[0])
        variables = self.student.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return self.update_metrics(labels, student_logits, losses)

    def test_step(self, data):
        inputs, labels = unpack(data)
        pixels, teacher_logits = self.teacher_logits(inputs)
        student_logits = self(pixels, training=False)
        return self.update_metrics(labels, student_logits, self.compute_losses(labels, student_logits, teacher_logits))

    def update_metrics(self, labels, student_logits, losses):
        trackers = (self.loss_tracker, self.student_loss_tracker, self.distillation_loss_tracker)
        for tracker, per_example in zip(trackers, losses):
            tracker.update_state(per_example)  # a Mean of per-example values: exact over uneven batches
        return self.compute_metrics(None, labels, student_logits)

    def get_config(self):
        return {
            **super().get_config(),
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher) if self.teacher is not None else None,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        student = keras.saving.deserialize_keras_object(config.pop("student"))
        teacher = config.pop("teacher")
        teacher = keras.saving.deserialize_keras_object(teacher) if teacher is not None else None
        return cls(student, teacher, **config)

    def get_compile_config(self):
        config = super().get_compile_config()
        return {**config, "temperature": self.temperature, "lambda_": self.lambda_,
                "hard_labels": self.hard_labels} if config else {}

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)


def unpack(data):
    inputs, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if sample_weight is not None:
        raise ValueError("Distiller does not support sample_weight")
    return inputs, labels
