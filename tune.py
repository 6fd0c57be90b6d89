"""Search Student2.0's T, lambda, epochs and views with keras-tuner, scored on validation accuracy only.

The command line lives in the package (distiller/tune_cli.py), so that an installed copy runs it too, as
`python -m distiller tune` or `distiller-tune`. `python tune.py --help` lists the examples and flags.
"""

from distiller.tune_cli import main

if __name__ == "__main__":
    main()
