"""``python -m codality_cli``: the same entry point as the ``codality`` console script."""

from codality_cli.launch import run

if __name__ == "__main__":
    run()
