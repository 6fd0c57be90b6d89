"""`python -m distiller`: train.py's command line, and `python -m distiller tune`: tune.py's, from wherever the
package is installed. "tune" is no stage of train.py's, so the two never clash."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["tune"]:
        from distiller.tune_cli import main

        main(sys.argv[2:], prog="python -m distiller tune")
    else:
        from distiller.cli import main

        main(prog="python -m distiller")
