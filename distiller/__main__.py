"""`python -m distiller`: train.py's command line, from wherever the package is installed."""

from distiller.cli import main

if __name__ == "__main__":
    main(prog="python -m distiller")
