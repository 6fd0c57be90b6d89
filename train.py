"""Train Teacher, Student and Student2.0 on MNIST, run the class-3 experiment, print the results.

The command line lives in the package (distiller/cli.py), so that an installed copy runs it too, as
`python -m distiller` or `distiller-train`. `python train.py --help` lists the stages and flags.
"""

from distiller.cli import main, parse_args  # noqa: F401 -- parse_args: tests read the flags through train.py

if __name__ == "__main__":
    main()
