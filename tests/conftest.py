import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

# Two logical CPUs, so that a MirroredStrategy test can run without a second device.
# Must happen before TensorFlow initialises its devices, hence here.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def tiny_splits(test_labels=None, sizes=(600, 300, 300)):
    """A learnable toy problem shaped like MNIST: 10 noisy cluster centres in 784 dimensions."""
    import numpy as np

    from distiller.experiments import Splits

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 784)).astype(np.float32)

    def part(n):
        y = rng.integers(0, 10, n)
        return (centers[y] + rng.normal(size=(n, 784)).astype(np.float32) * 2, y)

    train, val, test = (part(n) for n in sizes)
    if test_labels is not None:
        test = (test[0], test_labels(test[1]))
    return Splits(train, val, test)
