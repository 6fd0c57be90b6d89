"""Knowledge distillation in Keras (Hinton, Vinyals & Dean 2015).

    from distiller import Distiller, distillation_loss

Both are imported on first use, so that `import distiller.config` (train.py's --help) stays free of TensorFlow.
"""

__all__ = ["Distiller", "distillation_loss"]


def __getattr__(name):
    if name == "Distiller":
        from distiller.distiller import Distiller

        return Distiller
    if name == "distillation_loss":
        from distiller.losses import distillation_loss

        return distillation_loss
    raise AttributeError(f"module 'distiller' has no attribute {name!r}")
