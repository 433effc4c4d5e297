"""``python -m autodiff``: the same command line as the ``autodiff`` script."""

from autodiff.cli import main

raise SystemExit(main())
