"""The ``anp`` command line (click).

:func:`run` is the ``anp`` console script. It imports the commands itself, so that Ctrl-C while
they load (numpy, pandas, numba: about a second) ends as any other interruption of ``anp``: one
line and exit code 130, not a traceback. After start-up the ``anp`` group handles it.
"""


def run() -> None:
    import sys

    try:
        from anp_emu.cli.main import main
    except KeyboardInterrupt:
        print("interrupted during start-up: nothing was written", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
