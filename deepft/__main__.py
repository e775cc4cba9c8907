"""``python -m deepft`` runs the command-line interface."""

from deepft.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
