"""The two ways a net's weights move here: Adam with a cosine decay (every recipe of make run), and the SGD of the
dropout paper that Hinton et al. 2015 inherit (the protocol stage).

Hinton, Srivastava, Krizhevsky, Sutskever & Salakhutdinov 2012 (arXiv 1207.0580), appendix A.1, for MNIST:

    dw(t) = p(t) dw(t-1) - (1 - p(t)) eps(t) <grad>        w(t) = w(t-1) + dw(t)
    eps(t) = eps0 * f^t                                     p(t) = p_i -> p_f linearly over the first T epochs

with t counted in epochs, eps0 = 10, f = 0.998, p_i = 0.5, p_f = 0.99, T = 500, minibatches of 100. (The same
rule, with eps0 = 1, in mdenil/dropout's mlp.py, a public reproduction; its issue 7 quotes the appendix.) In the
steady state dw = -eps <grad>: the (1 - p) factor keeps the step's size as the momentum rises.
"""

import math

import keras


def cosine_adam(learning_rate, epochs, steps_per_epoch):
    """Adam whose rate falls from `learning_rate` to 0 over all steps (constant Adam: ~97.8%)."""
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch))


class DropoutPaperSGD(keras.optimizers.Optimizer):
    """The update of Hinton et al. 2012 (above): the rate decays by `decay` once per epoch, the momentum rises from
    momentum[0] to momentum[1] over momentum[2] epochs. Neither depends on the run's length, so a run of n epochs is
    the first n epochs of any longer one: a length can be read off one run's validation curve."""

    def __init__(self, initial_rate, decay, momentum, steps_per_epoch, name="dropout_paper_sgd", **kwargs):
        schedule = keras.optimizers.schedules.ExponentialDecay(initial_rate, steps_per_epoch, decay, staircase=True)
        super().__init__(learning_rate=schedule, name=name, **kwargs)
        self.initial_rate, self.decay, self.steps_per_epoch = initial_rate, decay, steps_per_epoch
        self.momentum_start, self.momentum_end, self.momentum_epochs = momentum

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # One velocity dw per variable, found by the variable itself rather than by Keras's private index.
        self.velocities = {identity(v): self.add_variable_from_reference(v, "velocity") for v in variables}

    def momentum(self):
        """p(t) of the current epoch t."""
        epoch = keras.ops.cast(self.iterations // self.steps_per_epoch, "float32")
        ramp = keras.ops.minimum(epoch / self.momentum_epochs, 1.0)
        return self.momentum_start + (self.momentum_end - self.momentum_start) * ramp

    def update_step(self, gradient, variable, learning_rate):
        p = keras.ops.cast(self.momentum(), variable.dtype)
        rate = keras.ops.cast(learning_rate, variable.dtype)
        velocity = self.velocities[identity(variable)]
        self.assign(velocity, p * velocity - (1.0 - p) * rate * keras.ops.cast(gradient, variable.dtype))
        self.assign_add(variable, velocity)

    def get_config(self):
        config = super().get_config()
        config.pop("learning_rate", None)
        return {**config, "initial_rate": self.initial_rate, "decay": self.decay, "steps_per_epoch":
                self.steps_per_epoch, "momentum": (self.momentum_start, self.momentum_end, self.momentum_epochs)}


def identity(variable):
    """A variable's hashable identity: update_step is given the backend's variable (TensorFlow's, here), build the
    Keras one that holds it."""
    value = variable.value if isinstance(variable, keras.Variable) else variable
    return value.ref() if hasattr(value, "ref") else id(value)


def for_config(config, train_size):
    """The optimizer `config` asks for (config.optimizer), for a training set of `train_size` images."""
    steps_per_epoch = math.ceil(train_size / config.batch_size)
    if config.optimizer == "adam":
        return cosine_adam(config.learning_rate, config.epochs, steps_per_epoch)
    if config.optimizer == "dropout_sgd":
        return DropoutPaperSGD(config.learning_rate, config.lr_decay, config.momentum, steps_per_epoch)
    raise ValueError(f"optimizer must be 'adam' or 'dropout_sgd', got {config.optimizer!r}")
