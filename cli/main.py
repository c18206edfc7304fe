"""``anp``: the command-line entry point.

Every command module adds itself to :data:`main`. Errors of anp-emu (``AnpError``) and OS errors
on user files become one line ``error: ...`` on stderr and exit code 1; click's usage errors exit 2.
No command prints a traceback for a bad input.
"""
from __future__ import annotations

import sys

import click

from anp_emu.runtime.codegen import apply_default
from anp_emu.errors import AnpError

apply_default()                  # before any kernel is created (import anp_emu did it already)


class AnpGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AnpError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except OSError as e:   # FileNotFoundError, PermissionError, NotADirectoryError, disk full, ...
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"error: {where}{e.strerror or e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: outputs written so far are intact", err=True)
            ctx.exit(130)


@click.group(cls=AnpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anp-emu")
def main():
    """anp-emu: emulate the ANP-I neuromorphic processor and train spiking networks on it.

    Threads: numba gets the cores other processes leave free, re-checked every epoch
    (ANP_THREADING=numba or NUMBA_NUM_THREADS=N keep numba's own or a fixed count)."""
    from anp_emu.runtime.threads import enable_auto

    enable_auto()


def _register() -> None:
    # Each command module owns its commands; imported here so `anp --help` lists them all.
    from anp_emu.cli import commands_chip  # noqa: F401
    from anp_emu.cli import commands_cv  # noqa: F401
    from anp_emu.cli import commands_data  # noqa: F401
    from anp_emu.cli import commands_energy  # noqa: F401
    from anp_emu.cli import commands_plot  # noqa: F401
    from anp_emu.cli import commands_sweep  # noqa: F401
    from anp_emu.cli import commands_rules  # noqa: F401
    from anp_emu.cli import commands_train  # noqa: F401


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
